"""JSON format checks: validity (strict / lenient) and JSON Schema conformance (jsonschema).

Parsing follows RFC 8259 (suites/scorers/rfc8259.py): NaN and Infinity fail every check, with
the reason; duplicate names, unpaired surrogates and out-of-range numbers pass but the reason
reports them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import jsonschema
from jsonschema import validators

from harness.scorers import passed, scorer, unscored
from suites.scorers import rfc8259

# Looking for a JSON value in prose tries a decode at each "[" / "{"; a failed decode costs about the
# distance it got. These bounds keep a 1 MB answer linear: at most this many starts, and at most
# this many characters decoded in all (times the answer's length).
MAX_STARTS = 256
DECODE_BUDGET = 4


@dataclass
class Parsed:
    """The outcome of looking for one JSON value: found or not, the value, why not, the notes."""

    found: bool
    value: Any = None
    error: str | None = None  # why nothing was found (the first candidate's parse error)
    too_deep: bool = False  # nested beyond the parser's limit: undecided, not "no JSON"
    notes: list[str] = field(default_factory=list)

    def describe(self, ok: str) -> str:
        text = ok if self.found else f"no parseable JSON value ({self.error})"
        return "; ".join([text, *self.notes])


def parse_strict(text: str) -> Parsed:
    """The whole answer is one JSON value (JSON whitespace around it allowed)."""
    try:
        value, notes = rfc8259.loads(text)
    except rfc8259.TooDeep as e:
        return Parsed(False, error=str(e), too_deep=True)
    except rfc8259.NotJSON as e:
        return Parsed(False, error=str(e))
    return Parsed(True, value, notes=notes)


def fenced_blocks(text: str) -> Iterator[str]:
    """The insides of ``` fences (a json/JSON tag dropped), found with str.find: linear in the text."""
    at = 0
    while (start := text.find("```", at)) >= 0 and (end := text.find("```", start + 3)) >= 0:
        body = text[start + 3 : end]
        yield body[4:] if body.startswith(("json", "JSON")) else body
        at = end + 3


def parse_lenient(text: str) -> Parsed:
    """One JSON value: the whole answer, inside a ```json fence, or embedded in prose."""
    first = parse_strict(text)
    if first.found:
        return first
    for block in fenced_blocks(text):
        if not block.strip():
            continue
        parsed = parse_strict(block)
        if parsed.found:
            return parsed
        first = _more_telling(first, parsed)
    budget = DECODE_BUDGET * len(text)
    for n, match in enumerate(re.finditer(r"[\[{]", text)):
        if n >= MAX_STARTS or budget <= 0:
            break
        try:
            value, _end, notes = rfc8259.raw_decode(text, match.start())
            return Parsed(True, value, notes=notes)
        except rfc8259.NotJSON as e:
            first = _more_telling(first, Parsed(False, error=str(e), too_deep=isinstance(e, rfc8259.TooDeep)))
            budget -= _decoded_length(e, len(text) - match.start())
    return first


def _decoded_length(error: Exception, rest: int) -> int:
    """How far a failed decode got (the column in its message), or what was left to read."""
    found = re.search(r"\(char (\d+)\)|column (\d+)\)", str(error))
    return max(1, int(next(g for g in found.groups() if g))) if found else rest


def _more_telling(a: Parsed, b: Parsed) -> Parsed:
    """Keep a NaN/Infinity rejection, or too deep to tell, as the reason: it names what to fix."""
    def rank(p: Parsed) -> int:
        return 2 if p.too_deep else 1 if "RFC 8259" in (p.error or "") else 0
    return b if rank(b) > rank(a) else a


def _is_integer(checker, instance) -> bool:
    # rfc8259 keeps integers of over 20,000 digits as exact Decimals: still integers
    base = jsonschema.Draft202012Validator.TYPE_CHECKER
    return base.is_type(instance, "integer") or (isinstance(instance, Decimal) and instance == instance.to_integral_value())


SchemaValidator = validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


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
        if parsed.too_deep and not parsed.found:
            return unscored(parsed.error)
        return passed(parsed.found, f"{mode}: {parsed.describe('one JSON value')}")

    return score


@scorer("json_schema")
def json_schema(path: str | None = None, schema: dict | None = None):
    """The (leniently extracted) JSON value validates against a JSON Schema: the sample's `schema`, or
    one for the whole task, from a file (`path`, relative to the suite file) or written inline (`schema`).

        scorers:
          - json_schema                                  # each sample's own "schema"
          - json_schema: {path: schemas/answer.json}     # every answer of the task against one file
    """
    task_schema = _task_schema(path, schema)  # checked once, at suite load
    task_validator = SchemaValidator(task_schema) if task_schema is not None else None

    def score(sample, answer):
        if task_validator is None and "schema" not in sample:
            return None
        parsed = parse_lenient(answer.text)
        if parsed.too_deep and not parsed.found:
            return unscored(parsed.error)
        if not parsed.found:
            return passed(False, f"no JSON value to validate ({parsed.error})")
        validator = task_validator
        if validator is None:
            try:
                jsonschema.Draft202012Validator.check_schema(sample["schema"])
                validator = SchemaValidator(sample["schema"])
            except jsonschema.SchemaError as e:
                return unscored(f"the sample's schema is invalid: {e.message}")
        try:
            errors = sorted(validator.iter_errors(parsed.value), key=lambda e: list(e.path))
        except RecursionError:
            return unscored("the JSON value is nested too deeply to validate")
        except ValueError as e:  # jsonschema's message quotes an integer over Python's 4,300-digit str() limit
            return unscored(f"the JSON value holds a number too long for the schema check to report ({str(e)[:80]})")
        if not errors:
            return passed(True, parsed.describe("matches schema"))
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        return passed(False, f"schema: {where}: {first.message}"[:300])

    return score


def _task_schema(path: str | None, schema: dict | None) -> dict | None:
    """The task-wide schema, read and checked when the suite loads (a ValueError names what is wrong)."""
    if path is not None and schema is not None:
        raise ValueError("give the schema as path (a file) or schema (inline), not both")
    if path is not None:
        try:
            schema = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise ValueError(f"cannot read the schema file {path}: {e.strerror}") from None
        except ValueError as e:
            raise ValueError(f"the schema file {path} is not JSON: {e}") from None
    if schema is None:
        return None
    if not isinstance(schema, (dict, bool)):
        raise ValueError(f"a JSON Schema is an object, got {type(schema).__name__}")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ValueError(f"invalid JSON Schema{f' in {path}' if path else ''}: {e.message}") from None
    return schema
