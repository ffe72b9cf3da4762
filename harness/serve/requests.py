"""What a request to `harness serve` may ask for: pydantic models of the OpenAI request bodies.

Every field a client may send is declared. A field the server cannot honour is refused with a
clear message (HTTP 400), never dropped: unknown fields (tools, functions, audio, ...) by
`extra="forbid"`, known ones at a value it cannot honour (n > 1, a presence penalty, a JSON
response format, ...) by a validator. Value ranges of the generation settings are checked once,
by GenerationSettings, when the request's settings are built.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.errors import HarnessError
from harness.models.generation_settings import GenerationSettings

MAX_STOP = 16  # stop sequences per request
MAX_TOP_LOGPROBS = 20  # alternatives per token, as the OpenAI API allows

NO_CONSTRAINED_DECODING = (
    "harness serve cannot constrain decoding to JSON (response_format {type!r}); ask for JSON in the "
    "prompt and check the answer with a JSON Schema, or serve the model with vLLM for guided decoding"
)


class Refused(ValueError):
    """A field the server understands but cannot honour; the message says why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: Union[str, list[TextPart]]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatTemplateKwargs(_Strict):
    enable_thinking: bool | None = None


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class _Sampling(_Strict):
    """Fields shared by chat and text completions."""

    model: str
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: Union[str, list[str], None] = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None  # an end-user id for the server's logs; asks for nothing
    # vLLM's extras (the openai client sends them through `extra_body`)
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n):
        if n not in (None, 1):
            raise Refused("only n=1 is supported by harness serve")
        return n

    @field_validator("presence_penalty", "frequency_penalty")
    @classmethod
    def _no_penalty(cls, value, info):
        if value not in (None, 0, 0.0):
            raise Refused(f"{info.field_name} is not supported by harness serve (use repetition_penalty)")
        return value

    @field_validator("logit_bias")
    @classmethod
    def _no_bias(cls, value):
        if value:
            raise Refused("logit_bias is not supported by harness serve")
        return value

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, stop):
        if stop is None:
            return None
        stops = [stop] if isinstance(stop, str) else stop
        if not stops or len(stops) > MAX_STOP or any(not s for s in stops):
            raise ValueError(f"stop must be 1 to {MAX_STOP} non-empty strings")
        return stops

    @model_validator(mode="after")
    def _stream_options_need_stream(self):
        if self.stream_options is not None and not self.stream:
            raise Refused("stream_options is only allowed with stream: true")
        return self

    @property
    def stops(self) -> tuple[str, ...]:
        return tuple(self.stop or ())

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def settings(self, defaults: GenerationSettings, max_tokens: int | None, enable_thinking: bool | None = None) -> GenerationSettings:
        """The generation settings asked for (unset fields keep the server's defaults)."""
        overrides: dict[str, Any] = {}
        if max_tokens is not None:
            overrides["max_new_tokens"] = max_tokens
        for key in ("temperature", "top_p", "seed", "top_k", "min_p", "repetition_penalty"):
            if getattr(self, key) is not None:
                overrides[key] = getattr(self, key)
        if enable_thinking is not None:
            overrides["enable_thinking"] = enable_thinking
        try:
            return defaults.updated(overrides, "request")
        except HarnessError as e:
            raise Refused(str(e)) from None


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    response_format: ResponseFormat | None = None
    chat_template_kwargs: ChatTemplateKwargs | None = None

    @model_validator(mode="after")
    def _checks(self):
        if self.response_format is not None and self.response_format.type != "text":
            raise Refused(NO_CONSTRAINED_DECODING.format(type=self.response_format.type))
        if self.top_logprobs is not None and not self.logprobs:
            raise Refused("top_logprobs needs logprobs: true")
        if self.logprobs and self.stream:
            raise Refused("logprobs with stream: true is not supported by harness serve")
        return self

    def wanted_logprobs(self) -> int | None:
        """Alternatives per token when logprobs are asked for (None: not asked)."""
        return (self.top_logprobs or 0) if self.logprobs else None

    def generation_settings(self, defaults: GenerationSettings) -> GenerationSettings:
        max_tokens = self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens
        thinking = self.chat_template_kwargs.enable_thinking if self.chat_template_kwargs else None
        return self.settings(defaults, max_tokens, thinking)


Prompt = Union[str, list[str], list[int], list[list[int]]]


class CompletionRequest(_Sampling):
    prompt: Prompt
    max_tokens: int | None = Field(default=16, ge=0)  # the OpenAI default; 0 only with echo (scoring a text)
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    suffix: str | None = None
    best_of: int | None = None

    @model_validator(mode="after")
    def _checks(self):
        if self.suffix:
            raise Refused("suffix (insertion) is not supported by harness serve")
        if self.best_of not in (None, 1):
            raise Refused("only best_of=1 is supported by harness serve")
        if self.max_tokens == 0 and not self.echo:
            raise Refused("max_tokens 0 needs echo: true (it scores the prompt and generates nothing)")
        if self.stream and (self.echo or self.logprobs is not None):
            raise Refused("echo and logprobs with stream: true are not supported by harness serve")
        if isinstance(self.prompt, list) and not self.prompt:
            raise ValueError("prompt must not be empty")
        return self

    def prompts(self) -> list[str | list[int]]:
        """Each prompt of the request: a text or a list of token ids."""
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if all(isinstance(x, int) for x in p):
            return [p]  # one tokenized prompt
        return list(p)

    def generation_settings(self, defaults: GenerationSettings) -> GenerationSettings | None:
        """None when nothing is generated (max_tokens 0 with echo)."""
        if self.max_tokens == 0:
            return None
        return self.settings(defaults, self.max_tokens)


class TokenizeRequest(_Strict):
    """vLLM's /tokenize (lm-evaluation-harness finds the server's tokenizer through it)."""

    model: str | None = None
    prompt: str
    add_special_tokens: bool = True


class DetokenizeRequest(_Strict):
    model: str | None = None
    tokens: list[int]


_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}
_TYPE_TAG = re.compile(r"^(list|dict|tuple|literal|function-\w+)\[")


def describe_validation_error(errors: list[dict]) -> tuple[str, str | None]:
    """The first pydantic error as (one clear line, the offending field)."""
    e = errors[0]
    loc = [str(x) for x in e.get("loc", ()) if x != "body"]
    # union members add their type to the location (content.str, prompt.list[int]); keep the field path
    loc = [x for x in loc if x not in _TYPE_TAGS and not _TYPE_TAG.match(x)]
    field = ".".join(loc) or None
    if e.get("type") == "extra_forbidden":
        return f"field '{field}' is not supported by harness serve", field
    if e.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    msg = str(e.get("msg", "invalid value"))
    ctx_error = (e.get("ctx") or {}).get("error")
    if isinstance(ctx_error, Refused):
        return str(ctx_error), field
    msg = msg.removeprefix("Value error, ")
    return (f"{field}: {msg}" if field else msg), field
