"""The Backend contract: what every backend returns, what it can do, and the one base class a new
backend starts from.

Callers never probe a backend (`getattr`, `hasattr`): they ask `capabilities()` what it can do and
`describe()` what config.json records, and call the contract's methods. A backend is one class:
subclass `BackendBase`, register it with `@register_backend("name")`, implement `generate` (and
whatever else `capabilities()` says it has). docs/architecture.md ("The Backend contract") is the
long form.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.models.checkpoint import Checkpoint
    from harness.models.decode_stream import DecodeStream
    from harness.models.generation_settings import GenerationSettings


@dataclass
class Generation:
    raw: str  # everything the model generated (special tokens removed), thinking included
    text: str  # the answer that scorers see: `raw` without <think>...</think>
    finish_reason: str  # "stop" (end-of-turn token) or "length" (hit max_new_tokens)
    prompt_tokens: int
    completion_tokens: int


class Loglikelihood(NamedTuple):
    """What `loglikelihood` returns per conversation."""

    nll_sum: float  # sum of the negative log-likelihoods (nats) of the counted tokens
    n_tokens: int  # counted tokens
    n_bytes: int  # UTF-8 bytes of the text the counted tokens spell (for bits per byte)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; callers check these instead of probing attributes."""

    generate: bool = True  # generate(batch, settings, role)
    loglikelihood: bool = False  # loglikelihood(batch, mask, role): perplexity, bits per byte
    token_logprobs: bool = False  # token_logprobs(ids, top, role): each token's logprob in a given sequence
    switch_adapter: bool = False  # switch_adapter(ckpt): another adapter of the same base, engine kept
    batching: bool = False  # a batch is computed together (one padded batch, or concurrent requests)
    token_streams: bool = False  # new_stream / generate_streams / encode_chat: what `harness serve` serves
    raw_text: bool = False  # loglikelihood_text / generate_text (RawTextBackend): capability tasks (lm-eval)
    loglikelihood_missing: str = ""  # why `loglikelihood` is False (recorded with each unscored sample)


def template_hash(template) -> str | None:
    """config.json's `chat_template_hash`: 16 hex digits of the template's sha256 (None: no template)."""
    return hashlib.sha256(str(template).encode()).hexdigest()[:16] if template else None


class TokenizerView:
    """The tokenizer and chat template of a backend's model, as `harness serve` and scoring over an
    API use them (wraps a transformers tokenizer; no model needed)."""

    def __init__(self, tokenizer, max_model_len: int | None = None):
        self._tok = tokenizer
        self._max_model_len = max_model_len  # the model's position limit, where the backend knows it

    @property
    def chat_template(self) -> str | None:
        template = self._tok.chat_template
        return template.get("default") if isinstance(template, dict) else template

    @property
    def vocab_size(self) -> int:
        return len(self._tok)

    @property
    def model_max_length(self) -> int | None:
        """The longest sequence the model takes: the backend's limit (the model config's), else the
        tokenizer's where that is a real number (transformers writes 1e30 when it does not know)."""
        if self._max_model_len:
            return self._max_model_len
        limit = self._tok.model_max_length
        return limit if isinstance(limit, int) and 0 < limit < 10**18 else None

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(self._tok(text, add_special_tokens=add_special_tokens)["input_ids"])

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)

    def pieces(self, ids: list[int]) -> list[str]:
        """Per token the text it adds, so that the pieces join to the decoded text (multi-byte safe)."""
        from harness.models.decode_stream import token_pieces

        return token_pieces(self._tok, ids)

    def info(self) -> dict:
        """vLLM's /tokenizer_info fields."""
        tok = self._tok
        return {"tokenizer_class": type(tok).__name__, "eos_token": tok.eos_token, "bos_token": tok.bos_token,
                "pad_token": tok.pad_token, "chat_template": tok.chat_template, "model_max_length": self.model_max_length}


class Backend(Protocol):
    """What the harness needs from a model backend (BackendBase implements the optional parts)."""

    name: str
    ckpt: Checkpoint  # the checkpoint now loaded (switch_adapter replaces it)

    def capabilities(self) -> Capabilities: ...

    def describe(self) -> dict:
        """What config.json records of how answers were made: {"backend", "device",
        "chat_template_hash", "engine": {settings that change answers or speed}}."""

    def generate(self, batch: list[list[dict]], settings: GenerationSettings, role: str = "ckpt") -> list[Generation]:
        """One Generation per conversation; role "base" runs an adapter's base (adapter off)."""

    def loglikelihood(self, batch: list[list[dict]], mask: str = "assistant", role: str = "ckpt") -> list[Loglikelihood]:
        """Per conversation: the NLL sum over counted tokens, their number and their UTF-8 bytes."""

    def loglikelihood_length(self, messages: list[dict], mask: str = "assistant") -> int:
        """A sort key for loglikelihood batches (token count where known): less padding per batch."""

    def switch_adapter(self, ckpt: Checkpoint) -> None:
        """Answer as `ckpt`, another adapter of the same base, without reloading the base."""

    def tokenizer_view(self) -> TokenizerView:
        """The model's tokenizer and chat template (HarnessError where the backend has none)."""

    def attach_run_dir(self, folder) -> None:
        """Keep the backend's own files (a server's log) in this run directory from now on."""

    def close(self) -> None:
        """Release what the backend owns (a server process, GPU memory); idempotent."""


class StreamingBackend(Backend, Protocol):
    """A backend with `capabilities().token_streams`: token-level generation that `harness serve`
    drives (its batching worker feeds each token to a DecodeStream: stop strings, SSE, cancel)."""

    def encode_chat(self, messages: list[dict], settings: GenerationSettings) -> list[int]: ...

    def new_stream(self, settings: GenerationSettings, **kwargs) -> DecodeStream: ...

    def generate_streams(self, prompts: list[list[int]], settings: GenerationSettings,
                         streams: list[DecodeStream] | None = None, role: str = "ckpt") -> list[DecodeStream]: ...

    def token_logprobs(self, ids: list[int], top: int, role: str = "ckpt") -> list[tuple[float, list[tuple[int, float]]]]: ...


class BackendBase:
    """The contract's defaults: generation only. Override what the backend has, and say so in
    `capabilities()`; `name` is set by `@register_backend`."""

    name = "?"
    ckpt: Checkpoint

    def capabilities(self) -> Capabilities:
        return Capabilities(loglikelihood_missing=f"the {self.name} backend has no loglikelihoods")

    def describe(self) -> dict:
        return {"backend": self.name, "device": "", "chat_template_hash": None, "engine": {}}

    def generate(self, batch, settings, role: str = "ckpt") -> list[Generation]:
        raise NotImplementedError

    def loglikelihood(self, batch, mask: str = "assistant", role: str = "ckpt") -> list[Loglikelihood]:
        raise HarnessError(self.capabilities().loglikelihood_missing or f"the {self.name} backend has no loglikelihoods")

    def loglikelihood_length(self, messages: list[dict], mask: str = "assistant") -> int:
        return len(str(messages))  # characters: the order used when token counts are unknown

    def switch_adapter(self, ckpt: Checkpoint) -> None:
        raise HarnessError(f"the {self.name} backend cannot switch adapters; load {ckpt.spec} as a new backend")

    def tokenizer_view(self) -> TokenizerView:
        raise HarnessError(f"the {self.name} backend has no local tokenizer")

    def attach_run_dir(self, folder) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


CONTRACT = ("capabilities", "describe", "generate", "loglikelihood", "loglikelihood_length", "switch_adapter",
            "tokenizer_view", "attach_run_dir", "close")


class RawTextBackend(Protocol):
    """Optional: raw text in, no chat template (capability tasks through lm-evaluation-harness,
    harness/capability.py). A backend without these methods records capability tasks as unsupported."""

    def loglikelihood_text(self, requests: list[tuple[str, str]], role: str = "ckpt") -> list[tuple[float, bool]]:
        """Per (context, continuation): the log-probability of the continuation's tokens given the
        context (an empty context: given the model's prefix token), and whether greedy decoding
        would have produced exactly them. lm-eval's `loglikelihood` contract."""

    def generate_text(self, prompts: list[str], settings, stop: list[str], role: str = "ckpt") -> list[Generation]:
        """One Generation per raw-text prompt, cut before the first `stop` string."""
