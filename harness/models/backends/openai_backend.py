"""The `openai` backend: the model under test is an OpenAI-compatible endpoint (harness serve,
vLLM, llama.cpp, ...), reached with `--ckpt http://HOST:PORT/v1 --model-name NAME`.

Same interface as the hf backend, so records are the same: `finish_reason` comes from the API,
token counts from its `usage`, and `<think>` blocks are split off the answer as for local
models. Loglikelihoods are not available over chat completions: `supports_loglikelihood` is
False and the runner records the perplexity task as unscored with the reason.
"""

from __future__ import annotations

from harness.models.backends import register_backend
from harness.models.backends.base import Generation
from harness.text import split_thinking
from harness.models.checkpoint import Checkpoint
from harness.errors import HarnessError
from harness.models.generation_settings import GenerationSettings
from harness.models.openai_client import ChatClient, ChatRequest, EndpointSettings, api_key_from_env

NO_LOGLIKELIHOOD = "loglikelihood is not available over chat completions (the model is an endpoint: --ckpt URL)"
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
class OpenAIBackend:
    name = "openai"
    supports_loglikelihood = False
    no_loglikelihood_reason = NO_LOGLIKELIHOOD
    tokenizer = None  # the chat template lives on the server

    def __init__(self, ckpt: Checkpoint, *, endpoint: EndpointSettings | None = None, check: bool = True):
        if not ckpt.endpoint:
            raise ValueError("OpenAIBackend needs an endpoint checkpoint")
        self.ckpt = ckpt
        self.device = ckpt.endpoint
        self.endpoint = endpoint or EndpointSettings(base_url=ckpt.endpoint)
        self.client = ChatClient(self.endpoint, ckpt.model)
        if check:
            self._check_model_is_served()

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
        failed = next((r for r in replies if not r.ok), None)
        if failed:
            raise HarnessError(f"model endpoint {self.endpoint.base_url} ({self.ckpt.model}): {failed.error}; "
                               "finished samples are saved, finish with harness run --resume RUN_DIR")
        out = []
        for r in replies:
            raw = f"<think>{r.reasoning}</think>\n{r.content}" if r.reasoning else r.content
            out.append(Generation(
                raw=raw, text=split_thinking(raw), finish_reason=r.finish_reason,
                prompt_tokens=r.prompt_tokens, completion_tokens=r.completion_tokens,
            ))
        return out

    def loglikelihood(self, batch, mask: str = "assistant", role: str = "ckpt"):
        raise HarnessError(NO_LOGLIKELIHOOD)
