"""What every backend returns."""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK_BLOCK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)


@dataclass
class Generation:
    raw: str  # everything the model generated (special tokens removed), thinking included
    text: str  # the answer that scorers see: `raw` without <think>...</think>
    finish_reason: str  # "stop" (end-of-turn token) or "length" (hit max_new_tokens)
    prompt_tokens: int
    completion_tokens: int


def split_thinking(raw: str) -> str:
    """The answer without Qwen3-style thinking. An unclosed <think> means no answer was given."""
    text = _THINK_BLOCK.sub("", raw)
    if "<think>" in text:
        text = text[: text.index("<think>")]
    return text.strip()


def ends_inside_thinking(raw: str) -> bool:
    """Whether generation stopped inside a <think> block (an unclosed <think>: no answer given).
    Uses the same block rule as split_thinking."""
    return "<think>" in _THINK_BLOCK.sub("", raw)
