"""JSON as RFC 8259 defines it, read with Python's json module minus its Python-only leniencies.

Python's `json.loads` accepts more than the RFC, so an answer can pass a Python check and break
a parser in another language. What this module does about each difference:

    NaN, Infinity, -Infinity   rejected: not JSON values (a JavaScript or Go parser fails on them)
    whitespace around a value  only space, tab, LF and CR (str.strip() would also take U+3000, NBSP, ...)
    duplicate object names     accepted (RFC: names SHOULD be unique) but reported: parsers disagree
                               on which value wins
    unpaired surrogate escapes accepted ("\\ud800" is in the grammar) but reported: RFC 8259 8.2
                               says the behaviour is unpredictable; many parsers reject or replace them
    numbers beyond float range accepted (the grammar has no limit) but reported: 1e400, or 1
                               followed by 400 zeros, reads as infinity in every IEEE-754 parser
    integers beyond 2**53      accepted, any number of digits (Python's 4,300-digit limit on int()
                               does not apply; over 20,000 digits the value is an exact Decimal),
                               but reported: RFC 8259 section 6 says a parser that
                               reads numbers as doubles (JavaScript) cannot keep them exact
    nesting depth              unclosed or otherwise broken input is invalid at any depth (a linear,
                               non-recursive check decides it); VALID JSON nested deeper than
                               Python's parser goes (about 1,000 levels) raises TooDeep: the scorers
                               call it unscored, because its value cannot be built to check further
    encoding                   an answer is text; `loads_bytes` (bytes as exchanged, RFC 8259 8.1)
                               requires UTF-8 and refuses a byte order mark

`loads` returns the value and the notes (reported issues); `NotJSON` carries the reason a text is
not JSON. `raw_decode` finds one value at a position, as `json.JSONDecoder.raw_decode` does.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

import numpy as np

JSON_WHITESPACE = " \t\n\r"
MAX_SAFE_INTEGER = 2 ** 53 - 1  # RFC 8259 section 6: integers in [-(2**53)+1, 2**53-1] interoperate
MAX_DOUBLE = 1.7976931348623157e308
# Longer integers are kept as exact Decimals: converting them to int takes quadratic time in
# Python 3.11 (a second at 60,000 digits, minutes at a million), Decimal reads them in linear time.
MAX_INT_DIGITS = 20_000


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
            parse_constant=_reject_constant, object_pairs_hook=self._object, parse_float=self._float,
            parse_int=self._int,
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

    def _int(self, literal: str) -> int | Decimal:
        if len(literal) > MAX_INT_DIGITS:
            value: int | Decimal = Decimal(literal)
        else:
            try:
                value = int(literal)
            except ValueError:  # over Python's int-string digit limit (4,300): via Decimal, exactly
                value = int(Decimal(literal))
        if abs(value) > MAX_DOUBLE:
            self._note(f"number {literal[:30]}{'...' if len(literal) > 30 else ''} ({len(literal.lstrip('-'))} digits) "
                       "is beyond the range of a double (reads as infinity)")
        elif abs(value) > MAX_SAFE_INTEGER:
            self._note(f"integer {literal[:30]}{'...' if len(literal) > 30 else ''} is beyond 2**53: a parser that reads "
                       "numbers as doubles (JavaScript) does not keep it exact (RFC 8259 section 6)")
        return value

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def raw_decode(self, text: str, start: int, whole: bool = False) -> tuple[Any, int]:
        try:
            value, end = self.decoder.raw_decode(text, start)
        except _NonJSONConstant as e:
            raise NotJSON(str(e)) from None
        except json.JSONDecodeError as e:
            raise NotJSON(f"{e.msg} (line {e.lineno} column {e.colno})") from None
        except RecursionError:
            scan(text, start, whole)  # raises NotJSON when the deep text is not JSON at all (e.g. never closed)
            raise TooDeep("valid JSON, but it nests deeper than the parser's limit (about 1,000 levels), "
                          "so its value cannot be built to check further") from None
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
    value, end = reader.raw_decode(text, start, whole=True)
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


def loads_bytes(data: bytes) -> tuple[Any, list[str]]:
    """`loads` for bytes as exchanged: RFC 8259 8.1 requires UTF-8 (and no byte order mark)."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise NotJSON("a UTF-8 byte order mark (RFC 8259 8.1: JSON text MUST NOT begin with one)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NotJSON(f"not UTF-8 at byte {e.start} (RFC 8259 8.1: JSON text exchanged MUST be UTF-8)") from None
    return loads(text)


# ---- a linear, non-recursive grammar check, for text too deep for Python's decoder ------------------
# Each string becomes one STRING character and each number or literal one SCALAR character (regular
# expressions, C speed); whitespace goes. What is left is checked with numpy, with no stack: bracket
# depth by a cumulative sum, bracket pairs by sorting on depth, each token's container by a search,
# then RFC 8259's grammar as rules on neighbouring tokens.
STRING, SCALAR, BAD = "\x01", "\x02", "\x03"  # control characters: never valid unescaped, so free to use
_STRING_RE = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_SCALAR_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_WHITESPACE_RE = re.compile(r"[ \t\n\r]+")
_NOT_TOKEN_RE = re.compile(r"[^\[\]{}:,\x01\x02]")
_CODE = {c: i for i, c in enumerate("[]{}:," + STRING + SCALAR)}
_OPEN_ARR, _CLOSE_ARR, _OPEN_OBJ, _CLOSE_OBJ, _COLON, _COMMA, _STR, _SCA = range(8)


def scan(text: str, start: int = 0, whole: bool = False) -> None:
    """Raise NotJSON unless a JSON value starts at `start` (after JSON whitespace): the whole rest of
    the text when `whole`, else a prefix of it. Any depth, linear time."""
    seg = text[start:]
    seg = seg.replace(STRING, BAD).replace(SCALAR, BAD)
    seg = _SCALAR_RE.sub(SCALAR, _STRING_RE.sub(STRING, seg))
    seg = _WHITESPACE_RE.sub("", seg)
    bad = _NOT_TOKEN_RE.search(seg)
    cut = bad.start() if bad else len(seg)
    if whole and bad:
        raise NotJSON(f"not JSON: {_shown(seg[cut:])} where a JSON token belongs")
    if cut == 0:
        raise NotJSON("no JSON value")
    lookup = np.zeros(256, np.int8)
    for ch, code in _CODE.items():
        lookup[ord(ch)] = code
    tok = lookup[np.frombuffer(seg[:cut].encode("latin-1"), np.uint8)]
    step = np.select([(tok == _OPEN_ARR) | (tok == _OPEN_OBJ), (tok == _CLOSE_ARR) | (tok == _CLOSE_OBJ)], [1, -1], 0)
    after = np.cumsum(step)  # depth after each token
    if tok[0] not in (_OPEN_ARR, _OPEN_OBJ, _STR, _SCA):
        raise NotJSON("expected a JSON value")
    closed = np.flatnonzero(after <= 0)
    if not len(closed):
        raise NotJSON(f"the text ends inside the JSON value ({int(after[-1])} brackets left open)")
    end = int(closed[0])  # the value is tok[:end + 1]
    if whole and end != cut - 1:
        raise NotJSON("extra text after the JSON value")
    tok, step, after = tok[: end + 1], step[: end + 1], after[: end + 1]
    n = len(tok)
    if n == 1:
        return
    # brackets pair up within each depth, in order: opener k with the next closer at its level
    brackets = np.flatnonzero(step != 0)
    level = np.where(step[brackets] > 0, after[brackets], after[brackets] + 1)
    order = brackets[np.argsort(level, kind="stable")]
    openers, closers = tok[order[0::2]], tok[order[1::2]]
    if len(openers) != len(closers) or np.any(closers != openers + 1):  # [ ] and { } are adjacent codes
        raise NotJSON("a closing bracket does not match its opening bracket")
    # the container open after each token: the last opener at that token's depth-after
    open_at = np.flatnonzero(step > 0)
    keys = after[open_at].astype(np.int64) * (n + 1) + open_at
    query = after.astype(np.int64) * (n + 1) + np.arange(n)
    container = tok[open_at[np.searchsorted(keys, query, side="right") - 1]]  # (sorted: depth, then position)
    in_obj = container == _OPEN_OBJ
    prev, nxt, ctx = tok[:-1], tok[1:], in_obj[:-1]
    is_value_start = np.isin(nxt, (_OPEN_ARR, _OPEN_OBJ, _STR, _SCA))
    is_key = np.zeros(n, bool)
    is_key[1:] = (tok[1:] == _STR) & ((tok[:-1] == _OPEN_OBJ) | ((tok[:-1] == _COMMA) & in_obj[:-1]))
    value_end = np.isin(prev, (_STR, _SCA, _CLOSE_ARR, _CLOSE_OBJ)) & ~is_key[:-1]
    ok = np.select(
        [prev == _OPEN_ARR, prev == _OPEN_OBJ, (prev == _COMMA) & ~ctx, (prev == _COMMA) & ctx, prev == _COLON,
         is_key[:-1], value_end & ~ctx, value_end & ctx],
        [is_value_start | (nxt == _CLOSE_ARR), (nxt == _STR) | (nxt == _CLOSE_OBJ), is_value_start, nxt == _STR,
         is_value_start, nxt == _COLON, (nxt == _COMMA) | (nxt == _CLOSE_ARR), (nxt == _COMMA) | (nxt == _CLOSE_OBJ)],
        False)
    if not ok.all():
        at = int(np.flatnonzero(~ok)[0])
        raise NotJSON(f"not JSON: {_NAMES[int(nxt[at])]} cannot follow {_NAMES[int(prev[at])]}")


_NAMES = ["'['", "']'", "'{'", "'}'", "':'", "','", "a string", "a number or literal"]


def _shown(rest: str) -> str:
    return repr(rest[:10].replace(STRING, '"..."').replace(SCALAR, "0"))
