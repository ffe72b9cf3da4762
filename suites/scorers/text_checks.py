"""Plain answer checks a suite names in its YAML, no Python: `contains`, `regex`, `exact_match`.

Each compares the answer (thinking removed) with an expected text given either once for the task
(`value:` / `pattern:`) or per sample (`field:`, the sample's key that holds it, e.g. `answer`):

    scorers:
      - contains: {value: "Paris", ignore_case: true}
      - regex: {pattern: '^\\d+$'}
      - exact_match: {field: answer}            # each sample's own "answer"

A sample without that field is unscored, saying so; an empty answer fails.
"""

from __future__ import annotations

import re

from harness.scorers import passed, scorer, unscored


def _expected(value, field: str | None, what: str):
    """(value, field) given as exactly one of the two; else a ValueError the suite loader reports with file:line."""
    if (value is None) == (field is None):
        raise ValueError(f"give exactly one of {what} (the same for every sample) or field (a sample key holding it)")
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")

    def get(sample):
        if field is None:
            return value
        got = sample.get(field)
        return None if got is None else str(got)

    return get


@scorer("contains")
def contains(value: str | None = None, field: str | None = None, ignore_case: bool = False):
    """Passes when the answer contains the expected text."""
    expected = _expected(value, field, "value")

    def score(sample, answer):
        want = expected(sample)
        if want is None:
            return unscored(f"the sample has no '{field}' field to look for")
        text = answer.text
        hit = want.lower() in text.lower() if ignore_case else want in text
        return passed(hit, f"{'contains' if hit else 'does not contain'} {want[:80]!r}")

    return score


@scorer("regex")
def regex(pattern: str | None = None, field: str | None = None, ignore_case: bool = False, full: bool = False):
    """Passes when the pattern matches somewhere in the answer (`full: true`: the whole answer, stripped)."""
    expected = _expected(pattern, field, "pattern")
    flags = re.IGNORECASE if ignore_case else 0
    if pattern is not None:
        try:
            re.compile(pattern, flags)
        except re.error as e:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {e}") from None

    def score(sample, answer):
        want = expected(sample)
        if want is None:
            return unscored(f"the sample has no '{field}' field with a pattern")
        try:
            compiled = re.compile(want, flags)
        except re.error as e:
            return unscored(f"the sample's pattern {want!r} is not a valid regular expression: {e}")
        text = answer.text.strip() if full else answer.text
        hit = (compiled.fullmatch(text) if full else compiled.search(text)) is not None
        return passed(hit, f"{'matches' if hit else 'does not match'} /{want[:80]}/")

    return score


@scorer("exact_match")
def exact_match(value: str | None = None, field: str | None = None, ignore_case: bool = False, strip: bool = True):
    """Passes when the answer equals the expected text (surrounding whitespace ignored unless strip: false)."""
    expected = _expected(value, field, "value")

    def score(sample, answer):
        want = expected(sample)
        if want is None:
            return unscored(f"the sample has no '{field}' field to compare with")
        got, want_ = (answer.text.strip(), want.strip()) if strip else (answer.text, want)
        if ignore_case:
            got, want_ = got.lower(), want_.lower()
        return passed(got == want_, f"{'equals' if got == want_ else 'differs from'} {want[:80]!r}")

    return score
