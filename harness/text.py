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

_TAG = re.compile(r"<(/?)think>", re.IGNORECASE)
_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_SPACE = re.compile(r"\s*")

CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
ZERO_WIDTH_CHARS = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad"
_ZERO_WIDTH_TABLE = str.maketrans({c: None for c in ZERO_WIDTH_CHARS})


def _thinking_removed(raw: str) -> tuple[str, bool]:
    """(the text without thinking, whether it ended inside a block that never closed).

    One left-to-right scan over the tags (str/regex searches that only move forward), so a 1 MB
    reply full of unclosed `<think>` tags costs linear time, not one scan per tag."""
    text = raw or ""
    kept: list[str] = []
    at = 0
    first = _TAG.search(text)
    if first and first.group(1):  # "...</think>" first: the template opened the block inside the prompt
        at = _SPACE.match(text, first.end()).end()
    while (tag := _TAG.search(text, at)) is not None:
        if tag.group(1):  # a stray closing tag outside any block is text
            kept.append(text[at : tag.end()])
            at = tag.end()
            continue
        kept.append(text[at : tag.start()])
        close = _CLOSE.search(text, tag.end())
        if close is None:  # never closed: no answer after it
            return "".join(kept), True
        at = _SPACE.match(text, close.end()).end()
    kept.append(text[at:])
    return "".join(kept), False


def split_thinking(raw: str) -> str:
    """The answer without thinking. An unclosed <think> means no answer was given."""
    return _thinking_removed(raw)[0].strip()


def ends_inside_thinking(raw: str) -> bool:
    """True when generation stopped inside a <think> block that never closed."""
    return _thinking_removed(raw)[1]


def has_cjk(text: str) -> bool:
    return bool(CJK_CHAR.search(text or ""))


def strip_zero_width(text: str) -> str:
    return text.translate(_ZERO_WIDTH_TABLE)
