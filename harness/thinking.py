"""Answers that end inside a <think> block.

Qwen3 thinks before it answers unless `enable_thinking` is false. With a short `max_new_tokens`
(lab1: 160) the thinking can use up every token, and the answer scorers see is empty: a model
that never got to answer, not a bad answer. A run counts these per role (summary.json
`unfinished_thinking`) and says so, with what to change.
"""

from __future__ import annotations

from harness.records import SampleRecord
from harness.text import ends_inside_thinking


def unfinished_thinking(records: list[SampleRecord]) -> dict[str, int]:
    """Per role, how many generated answers ended inside an unclosed <think> block."""
    counts: dict[str, int] = {}
    for r in records:
        if r.raw is not None:
            counts.setdefault(r.role, 0)
            counts[r.role] += ends_inside_thinking(r.raw)
    return counts


def thinking_warning(summary: dict) -> str | None:
    """One line for the terminal and report.md when any answer ended inside <think>, else None."""
    counts = {role: n for role, n in summary.get("unfinished_thinking", {}).items() if n}
    if not counts:
        return None
    which = ", ".join(f"{n} {role}" for role, n in counts.items())
    return (f"warning: {which} answer(s) ended inside a <think> block (max_new_tokens ran out while the model was "
            "still thinking, so it never answered); turn thinking off (--gen enable_thinking=false) or give it "
            "room (--gen max_new_tokens=1024)")
