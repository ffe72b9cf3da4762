"""Text helpers shared by backends, scorers and judges: one rule each, written once.

- Thinking: Qwen3-style `<think>...</think>` blocks. `split_thinking` gives the answer a scorer
  sees; a block that never closes means no answer was given; a lone `...</think>` prefix (the chat
  template opened the block inside the prompt) is dropped too.
- CJK: one character class for "is this Chinese/Japanese/Korean text" (unified ideographs, extension
  A, compatibility ideographs).
- Zero-width characters: invisible code points that break keyword matching.
"""

from __future__ import annotations

import re

_THINK_BLOCK = re.compile(r"<think>.*?</think>\s*", re.DOTALL | re.IGNORECASE)
_OPEN_THINK = re.compile(r"<think>", re.IGNORECASE)
_ORPHAN_END = re.compile(r"^(?:(?!<think>).)*?</think>\s*", re.DOTALL | re.IGNORECASE)

CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
ZERO_WIDTH_CHARS = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad"
_ZERO_WIDTH_TABLE = str.maketrans({c: None for c in ZERO_WIDTH_CHARS})


def split_thinking(raw: str) -> str:
    """The answer without thinking. An unclosed <think> means no answer was given."""
    text = raw or ""
    end = text.lower().find("</think>")
    if end >= 0 and "<think>" not in text[:end].lower():
        text = _ORPHAN_END.sub("", text, count=1)  # the template opened the block inside the prompt
    text = _THINK_BLOCK.sub("", text)
    match = _OPEN_THINK.search(text)
    if match:
        text = text[: match.start()]
    return text.strip()


def ends_inside_thinking(raw: str) -> bool:
    """True when generation stopped inside a <think> block that never closed."""
    text = _THINK_BLOCK.sub("", raw or "")
    return bool(_OPEN_THINK.search(text))


def has_cjk(text: str) -> bool:
    return bool(CJK_CHAR.search(text or ""))


def strip_zero_width(text: str) -> str:
    return text.translate(_ZERO_WIDTH_TABLE)
