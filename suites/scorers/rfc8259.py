"""JSON as RFC 8259 defines it, read with Python's json module minus its Python-only leniencies.

Python's `json.loads` accepts more than the RFC, so an answer can pass a Python check and break
a parser in another language. What this module does about each difference:

    NaN, Infinity, -Infinity   rejected: not JSON values (a JavaScript or Go parser fails on them)
    whitespace around a value  only space, tab, LF and CR (str.strip() would also take U+3000, NBSP, ...)
    duplicate object names     accepted (RFC: names SHOULD be unique) but reported: parsers disagree
                               on which value wins
    unpaired surrogate escapes accepted ("\\ud800" is in the grammar) but reported: RFC 8259 8.2
                               says the behaviour is unpredictable; many parsers reject or replace them
    numbers beyond float range accepted (the grammar has no limit) but reported: 1e400 reads as
                               infinity in Python and in every IEEE-754 parser

`loads` returns the value and the notes (reported issues); `NotJSON` carries the reason a text is
not JSON. `raw_decode` finds one value at a position, as `json.JSONDecoder.raw_decode` does.
"""

from __future__ import annotations

import json
import math
from typing import Any

JSON_WHITESPACE = " \t\n\r"


class NotJSON(ValueError):
    """The text is not one RFC 8259 JSON value; str(e) says why and where."""


class TooDeep(NotJSON):
    """Valid JSON may nest deeper than Python's parser goes (about 1,000 levels): undecided, not invalid."""


class _NonJSONConstant(ValueError):
    pass


def _reject_constant(name: str):
    raise _NonJSONConstant(f"{name} is not a JSON value (RFC 8259 has no NaN or Infinity; use null or a string)")


class _Reader:
    """One parse: a decoder whose hooks collect notes and reject NaN/Infinity."""

    def __init__(self):
        self.notes: list[str] = []
        self.decoder = json.JSONDecoder(
            parse_constant=_reject_constant, object_pairs_hook=self._object, parse_float=self._float
        )

    def _object(self, pairs: list[tuple[str, Any]]) -> dict:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                self._note(f"duplicate name {key!r} in an object (RFC 8259: names SHOULD be unique; "
                           "parsers disagree on which value wins)")
            seen.add(key)
        return dict(pairs)

    def _float(self, literal: str) -> float:
        value = float(literal)
        if math.isinf(value):
            self._note(f"number {literal[:30]} is beyond the range of a double (reads as infinity)")
        return value

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def raw_decode(self, text: str, start: int) -> tuple[Any, int]:
        try:
            value, end = self.decoder.raw_decode(text, start)
        except _NonJSONConstant as e:
            raise NotJSON(str(e)) from None
        except json.JSONDecodeError as e:
            raise NotJSON(f"{e.msg} (line {e.lineno} column {e.colno})") from None
        except RecursionError:
            raise TooDeep("the JSON nests deeper than the parser's limit (about 1,000 levels), so it cannot be checked") from None
        except ValueError as e:  # e.g. an integer over Python's digit limit
            raise NotJSON(str(e).splitlines()[0]) from None
        if _has_unpaired_surrogate(value):
            self._note("a string has an unpaired UTF-16 surrogate escape (RFC 8259 8.2: unpredictable)")
        return value, end


def _has_unpaired_surrogate(value: Any) -> bool:
    # after decoding, a proper pair is one astral character: any surrogate code point left is unpaired.
    # A stack, not recursion: a value may nest almost as deep as the decoder's own limit.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= c <= "\udfff" for c in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads(text: str) -> tuple[Any, list[str]]:
    """(value, notes) when the whole text is one JSON value (JSON whitespace around it allowed)."""
    reader = _Reader()
    start = len(text) - len(text.lstrip(JSON_WHITESPACE))
    if start == len(text):
        raise NotJSON("no JSON value (empty)")
    value, end = reader.raw_decode(text, start)
    rest = text[end:]
    if rest.strip(JSON_WHITESPACE):
        where = rest.lstrip(JSON_WHITESPACE)[:20]
        raise NotJSON(f"extra text after the JSON value: {where!r}")
    return value, reader.notes


def raw_decode(text: str, start: int) -> tuple[Any, int, list[str]]:
    """(value, end, notes) of the JSON value that starts at `start` (text may go on after it)."""
    reader = _Reader()
    value, end = reader.raw_decode(text, start)
    return value, end, reader.notes
