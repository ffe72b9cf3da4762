"""What every backend returns, and the protocol a backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol


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


class Backend(Protocol):
    """What the engine needs from a model backend."""

    name: str
    supports_loglikelihood: bool  # False: loglikelihood tasks are recorded unscored, with the reason

    def generate(self, batch: list[list[dict]], settings, role: str = "ckpt") -> list[Generation]:
        """One Generation per conversation; role "base" runs an adapter's base (adapter off)."""

    def loglikelihood(self, batch: list[list[dict]], mask: str = "assistant", role: str = "ckpt") -> list[Loglikelihood]:
        """Per conversation: the NLL sum over counted tokens, their number and their UTF-8 bytes."""


class RawTextBackend(Protocol):
    """Optional: raw text in, no chat template (capability tasks through lm-evaluation-harness,
    harness/capability.py). A backend without these methods records capability tasks as unsupported."""

    def loglikelihood_text(self, requests: list[tuple[str, str]], role: str = "ckpt") -> list[tuple[float, bool]]:
        """Per (context, continuation): the log-probability of the continuation's tokens given the
        context (an empty context: given the model's prefix token), and whether greedy decoding
        would have produced exactly them. lm-eval's `loglikelihood` contract."""

    def generate_text(self, prompts: list[str], settings, stop: list[str], role: str = "ckpt") -> list[Generation]:
        """One Generation per raw-text prompt, cut before the first `stop` string."""
