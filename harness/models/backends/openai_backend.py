"""The `openai` backend: the model under test is an OpenAI-compatible endpoint (harness serve,
vLLM, llama.cpp, ...), reached with `--ckpt http://HOST:PORT/v1 --model-name NAME`.

Same interface as the hf backend, so records are the same: `finish_reason` comes from the API,
token counts from its `usage`, and `<think>` blocks are split off the answer as for local
models. Loglikelihoods (perplexity, bits per byte) go over `/v1/completions` with echo
(harness.models.echo_loglikelihood) when the served model's tokenizer is here, i.e. when
`--model-name` is a local model folder or the bundled model's alias (as vLLM names a model it
serves from a folder); otherwise the perplexity task is recorded unscored with the reason.
"""

from __future__ import annotations

from harness.models.backends import register_backend
from harness.models.backends.base import BackendBase, Capabilities, Generation
from harness.text import split_thinking
from harness.models.checkpoint import Checkpoint
from harness.errors import HarnessError
from harness.models.generation_settings import GenerationSettings
from harness.models.openai_client import ChatClient, ChatRequest, EndpointSettings, api_key_from_env

NO_LOGLIKELIHOOD = ("loglikelihood over an endpoint needs the served model's tokenizer here: --model-name must be a local "
                    "model folder or 'smollm2-135m-instruct' (the name vLLM gives a model it serves from a folder)")
_DEFAULTS = GenerationSettings()


def request_params(settings: GenerationSettings) -> dict:
    """GenerationSettings as chat.completions parameters; non-OpenAI knobs (vLLM's top_k, min_p,
    repetition_penalty, chat_template_kwargs) go in extra_body and only when not at their default,
    so a strict OpenAI server never sees them unasked."""
    params = {"max_tokens": settings.max_new_tokens, "temperature": settings.temperature, "seed": settings.seed}
    if settings.top_p != _DEFAULTS.top_p:
        params["top_p"] = settings.top_p
    extra = {}
    for knob in ("top_k", "min_p", "repetition_penalty"):
        if getattr(settings, knob) != getattr(_DEFAULTS, knob):
            extra[knob] = getattr(settings, knob)
    if settings.enable_thinking is not None:
        extra["chat_template_kwargs"] = {"enable_thinking": settings.enable_thinking}
    if extra:
        params["extra_body"] = extra
    return params


@register_backend("openai")
class OpenAIBackend(BackendBase):
    """The chat template lives on the server; requests of a batch go out `concurrency` at a time."""

    def __init__(self, ckpt: Checkpoint, *, endpoint: EndpointSettings | None = None, check: bool = True):
        if not ckpt.endpoint:
            raise ValueError("OpenAIBackend needs an endpoint checkpoint")
        self.ckpt = ckpt
        self.device = ckpt.endpoint
        self.endpoint = endpoint or EndpointSettings(base_url=ckpt.endpoint)
        self.client = ChatClient(self.endpoint, ckpt.model)
        if check:
            self._check_model_is_served()
        self._tokenizer = self._local_tokenizer()
        self._echo = None  # made at the first loglikelihood call

    def _local_tokenizer(self):
        """The served model's tokenizer when its name is a local model (no hub access for API names)."""
        from pathlib import Path

        from harness.models.bundled import BUNDLED_ALIAS

        name = self.ckpt.model
        if name != BUNDLED_ALIAS and not (Path(name).is_dir() and (Path(name) / "config.json").is_file()):
            return None
        from harness.models.backends.hf import load_tokenizer
        from harness.models.checkpoint import resolve_checkpoint

        return load_tokenizer(resolve_checkpoint(name))

    def capabilities(self) -> Capabilities:
        return Capabilities(generate=True, batching=True, loglikelihood=self._tokenizer is not None,
                            loglikelihood_missing="" if self._tokenizer is not None else NO_LOGLIKELIHOOD)

    def describe(self) -> dict:
        return {"backend": self.name, "device": self.device, "chat_template_hash": None, "engine": {}}

    def loglikelihood(self, batch, mask: str = "assistant", role: str = "ckpt"):
        return self._echo_scorer().loglikelihood(batch, mask, self.ckpt.model)

    def loglikelihood_length(self, messages: list[dict], mask: str = "assistant") -> int:
        if self._tokenizer is None:
            return super().loglikelihood_length(messages, mask)
        return self._echo_scorer().length(messages, mask)

    def _echo_scorer(self):
        if self._tokenizer is None:
            raise HarnessError(NO_LOGLIKELIHOOD)
        if self._echo is None:
            from harness.models.echo_loglikelihood import EchoLoglikelihood
            from harness.models.loglikelihood_tokens import CountedTokens

            self._echo = EchoLoglikelihood(CountedTokens(self._tokenizer, self.ckpt.model), self.endpoint)
        return self._echo

    def close(self) -> None:
        if self._echo is not None:
            self._echo.close()
            self._echo = None

    def tokenizer_view(self):
        if self._tokenizer is None:
            return super().tokenizer_view()
        from harness.models.backends.base import TokenizerView

        return TokenizerView(self._tokenizer)

    def _check_model_is_served(self) -> None:
        """One clear line up front (server down, wrong model name) instead of a failure mid-run."""
        import openai

        url = self.endpoint.base_url
        client = openai.OpenAI(base_url=url, api_key=api_key_from_env(self.endpoint.api_key_env), max_retries=0, timeout=10)
        try:
            served = [m.id for m in client.models.list()]
        except openai.APIConnectionError:
            raise HarnessError(f"--ckpt {url}: cannot connect (is the server running? start one with `harness serve`)") from None
        except openai.APIStatusError as e:
            if e.status_code in {401, 403}:
                raise HarnessError(f"--ckpt {url}: HTTP {e.status_code}: the server wants an API key "
                                   f"(set ${self.endpoint.api_key_env})") from None
            return  # no /v1/models on this server: the first request will tell
        finally:
            client.close()
        if self.ckpt.model not in served:
            raise HarnessError(f"--model-name {self.ckpt.model!r} is not served at {url}; it serves: {', '.join(served) or 'nothing'}")

    def generate(self, batch: list[list[dict]], settings: GenerationSettings, role: str = "ckpt") -> list[Generation]:
        params = request_params(settings)
        replies = self.client.complete_all([ChatRequest(messages, params) for messages in batch])
        return generations(replies, f"model endpoint {self.endpoint.base_url} ({self.ckpt.model})")


def generations(replies, where: str, hint: str = "") -> list[Generation]:
    """Chat replies of an OpenAI-compatible server as Generations (reasoning kept in `raw` as a
    think block); the first failed reply stops the batch with one line (`where`: which server)."""
    failed = next((r for r in replies if not r.ok), None)
    if failed:
        raise HarnessError(f"{where}: {failed.error}{hint}; finished samples are saved, "
                           "finish with harness run --resume RUN_DIR")
    out = []
    for r in replies:
        raw = f"<think>{r.reasoning}</think>\n{r.content}" if r.reasoning else r.content
        out.append(Generation(raw=raw, text=split_thinking(raw), finish_reason=r.finish_reason,
                              prompt_tokens=r.prompt_tokens, completion_tokens=r.completion_tokens))
    return out
