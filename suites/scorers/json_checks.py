"""JSON format checks: validity (strict / lenient) and JSON Schema conformance (jsonschema)."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import jsonschema

from harness.scorers import passed, scorer, unscored

_NOT_FOUND = object()
_TOO_DEEP = object()  # valid JSON may nest deeper than Python's parser goes (about 1,000 levels)
TOO_DEEP = "the JSON nests deeper than the parser's limit (about 1,000 levels), so it cannot be checked"
# Looking for a JSON value in prose tries a decode at each "[" / "{"; a failed decode costs about the
# distance it got. These bounds keep a 1 MB answer linear: at most this many starts, and at most
# this many characters decoded in all (times the answer's length).
MAX_STARTS = 256
DECODE_BUDGET = 4


def parse_strict(text: str) -> Any:
    """The whole answer is one JSON value (surrounding whitespace allowed)."""
    try:
        return json.loads(text.strip())
    except ValueError:  # JSONDecodeError, or a number over Python's int digit limit
        return _NOT_FOUND
    except RecursionError:
        return _TOO_DEEP


def fenced_blocks(text: str) -> Iterator[str]:
    """The insides of ``` fences (a json/JSON tag dropped), found with str.find: linear in the text."""
    at = 0
    while (start := text.find("```", at)) >= 0 and (end := text.find("```", start + 3)) >= 0:
        body = text[start + 3 : end]
        yield body[4:] if body.startswith(("json", "JSON")) else body
        at = end + 3


def parse_lenient(text: str) -> Any:
    """One JSON value: the whole answer, inside a ```json fence, or embedded in prose."""
    value = parse_strict(text)
    if value is not _NOT_FOUND:
        return value
    for block in fenced_blocks(text):
        if block.isspace() or not block:
            continue
        value = parse_strict(block)
        if value is not _NOT_FOUND:
            return value
    decoder = json.JSONDecoder()
    budget = DECODE_BUDGET * len(text)
    too_deep = False
    for n, match in enumerate(re.finditer(r"[\[{]", text)):
        if n >= MAX_STARTS or budget <= 0:
            break
        try:
            value, _end = decoder.raw_decode(text, match.start())
            return value
        except json.JSONDecodeError as e:
            budget -= e.pos - match.start()
        except RecursionError:
            too_deep, budget = True, budget - 1000  # failed about a thousand levels in: a short scan
        except ValueError:  # a number over the int digit limit
            budget -= 1000
    return _TOO_DEEP if too_deep else _NOT_FOUND


def _wants_json(sample: dict) -> bool:
    return sample.get("check") == "json" or "schema" in sample


@scorer("json_valid")
def json_valid(mode: str = "strict"):
    """JSON validity: strict (the answer is exactly one JSON value) or lenient (fence/prose allowed)."""
    if mode not in {"strict", "lenient"}:
        raise ValueError(f"json_valid mode must be 'strict' or 'lenient', got {mode!r}")
    parse = parse_strict if mode == "strict" else parse_lenient

    def score(sample, answer):
        if not _wants_json(sample):
            return None
        if not answer.text.strip():
            return passed(False, "empty answer")
        value = parse(answer.text)
        if value is _TOO_DEEP:
            return unscored(TOO_DEEP)
        ok = value is not _NOT_FOUND
        return passed(ok, f"{mode}: {'one JSON value' if ok else 'no parseable JSON value'}")

    return score


@scorer("json_schema")
def json_schema():
    """The (leniently extracted) JSON value validates against the sample's JSON Schema."""

    def score(sample, answer):
        if "schema" not in sample:
            return None
        value = parse_lenient(answer.text)
        if value is _TOO_DEEP:
            return unscored(TOO_DEEP)
        if value is _NOT_FOUND:
            return passed(False, "no JSON value to validate")
        try:
            jsonschema.Draft202012Validator.check_schema(sample["schema"])
            validator = jsonschema.Draft202012Validator(sample["schema"])
        except jsonschema.SchemaError as e:
            return unscored(f"the sample's schema is invalid: {e.message}")
        try:
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
        except RecursionError:
            return unscored("the JSON value is nested too deeply to validate")
        if not errors:
            return passed(True, "matches schema")
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        return passed(False, f"schema: {where}: {first.message}"[:300])

    return score
