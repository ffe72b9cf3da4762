"""JSON format checks: validity (strict / lenient) and JSON Schema conformance (jsonschema).

Parsing follows RFC 8259 (suites/scorers/rfc8259.py): NaN and Infinity fail every check, with
the reason; duplicate names, unpaired surrogates and out-of-range numbers pass but the reason
reports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from harness.scorers import passed, scorer, unscored
from suites.scorers import rfc8259

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


@dataclass
class Parsed:
    """The outcome of looking for one JSON value: found or not, the value, why not, the notes."""

    found: bool
    value: Any = None
    error: str | None = None  # why nothing was found (the first candidate's parse error)
    notes: list[str] = field(default_factory=list)

    def describe(self, ok: str) -> str:
        text = ok if self.found else f"no parseable JSON value ({self.error})"
        return "; ".join([text, *self.notes])


def parse_strict(text: str) -> Parsed:
    """The whole answer is one JSON value (JSON whitespace around it allowed)."""
    try:
        value, notes = rfc8259.loads(text)
    except rfc8259.NotJSON as e:
        return Parsed(False, error=str(e))
    return Parsed(True, value, notes=notes)


def parse_lenient(text: str) -> Parsed:
    """One JSON value: the whole answer, inside a ```json fence, or embedded in prose."""
    first = parse_strict(text)
    if first.found:
        return first
    for block in _FENCE.findall(text):
        parsed = parse_strict(block)
        if parsed.found:
            return parsed
        first = _more_telling(first, parsed)
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _end, notes = rfc8259.raw_decode(text, match.start())
            return Parsed(True, value, notes=notes)
        except rfc8259.NotJSON as e:
            first = _more_telling(first, Parsed(False, error=str(e)))
    return first


def _more_telling(a: Parsed, b: Parsed) -> Parsed:
    """Keep a NaN/Infinity rejection as the reason: it names what to fix."""
    return b if "RFC 8259" in (b.error or "") and "RFC 8259" not in (a.error or "") else a


def _wants_json(sample: dict) -> bool:
    return sample.get("check") == "json" or "schema" in sample


@scorer("json_valid")
def json_valid(mode: str = "strict"):
    """JSON validity per RFC 8259: strict (the answer is exactly one JSON value) or lenient (fence/prose allowed)."""
    if mode not in {"strict", "lenient"}:
        raise ValueError(f"json_valid mode must be 'strict' or 'lenient', got {mode!r}")
    parse = parse_strict if mode == "strict" else parse_lenient

    def score(sample, answer):
        if not _wants_json(sample):
            return None
        if not answer.text.strip():
            return passed(False, "empty answer")
        parsed = parse(answer.text)
        return passed(parsed.found, f"{mode}: {parsed.describe('one JSON value')}")

    return score


@scorer("json_schema")
def json_schema():
    """The (leniently extracted) JSON value validates against the sample's JSON Schema."""

    def score(sample, answer):
        if "schema" not in sample:
            return None
        parsed = parse_lenient(answer.text)
        if not parsed.found:
            return passed(False, f"no JSON value to validate ({parsed.error})")
        try:
            jsonschema.Draft202012Validator.check_schema(sample["schema"])
            validator = jsonschema.Draft202012Validator(sample["schema"])
        except jsonschema.SchemaError as e:
            return unscored(f"the sample's schema is invalid: {e.message}")
        errors = sorted(validator.iter_errors(parsed.value), key=lambda e: list(e.path))
        if not errors:
            return passed(True, parsed.describe("matches schema"))
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        return passed(False, f"schema: {where}: {first.message}"[:300])

    return score
