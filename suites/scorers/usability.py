"""Usability: the share of answers a user could use: non-empty, finished, and not degenerate."""

from __future__ import annotations

import re

from harness.text import has_cjk
from harness.scorers import passed, scorer


def repetition_ratio(text: str, n: int = 4) -> float:
    """Share of word/character n-grams that repeat an earlier one (0 = none, near 1 = a loop).

    Chinese has no spaces, so text with CJK characters is measured on characters.
    """
    if has_cjk(text):
        chars = re.sub(r"\s+", "", text)  # character n-grams are substrings: no tuple per gram
        total = len(chars) - n + 1
        if len(chars) < n * 3:
            return 0.0
        return 1.0 - len({chars[i : i + n] for i in range(total)}) / total
    units = text.split()
    if len(units) < n * 3:
        return 0.0
    grams = [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams)


@scorer("usability")
def usability(max_repetition: float = 0.5):
    """Usable answer: not empty, not cut off at max_new_tokens, repetition ratio below the limit."""

    def score(sample, answer):
        text = answer.text.strip()
        if not text:
            why = "empty answer" if answer.raw.strip() == "" else "only thinking, no answer"
            return passed(False, why, label="empty")
        if answer.finish_reason == "length":
            return passed(False, "stopped at max_new_tokens mid-answer", label="unfinished")
        rep = repetition_ratio(text)
        if rep >= max_repetition:
            return passed(False, f"degenerate: repetition ratio {rep:.2f} >= {max_repetition}", label="degenerate")
        finished = "finish unknown" if answer.finish_reason is None else "finished"
        return passed(True, f"non-empty, {finished}, repetition {rep:.2f}", label="usable")

    return score
