"""Strict JSON against a public conformance suite: JSONTestSuite's test_parsing files (tests/data/
JSONTestSuite, MIT). y_ must parse, n_ must be rejected (at any depth), i_ get the outcome that
docs/validity.md documents; each file is a named case. The linear grammar check that decides input
too deep for Python's decoder is held to the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.models.backends.base import Generation
from suites.scorers import rfc8259
from suites.scorers.json_checks import json_schema, json_valid

SUITE = Path(__file__).parent / "data" / "JSONTestSuite" / "test_parsing"
FILES = sorted(p.name for p in SUITE.glob("*.json"))


def cases(prefix: str) -> list:
    return [pytest.param(name, id=name) for name in FILES if name.startswith(prefix)]


def outcome(data: bytes) -> str:
    try:
        rfc8259.loads_bytes(data)
    except rfc8259.TooDeep:
        return "too deep"
    except rfc8259.NotJSON:
        return "invalid"
    return "valid"


def scanned(text: str) -> str:
    """The linear check's verdict on the whole text (what decides text too deep for the decoder)."""
    try:
        rfc8259.scan(text, 0, whole=True)
    except rfc8259.NotJSON:
        return "invalid"
    return "valid"


def test_the_suite_is_all_there():
    assert len(FILES) == 318 and (SUITE.parent / "LICENSE").is_file()
    assert sum(n.startswith("y_") for n in FILES) == 95 and sum(n.startswith("n_") for n in FILES) == 188


@pytest.mark.parametrize("name", cases("y_"))
def test_must_accept(name):
    assert outcome((SUITE / name).read_bytes()) == "valid"
    assert scanned((SUITE / name).read_bytes().decode("utf-8")) == "valid"


@pytest.mark.parametrize("name", cases("n_"))
def test_must_reject(name):
    data = (SUITE / name).read_bytes()
    assert outcome(data) == "invalid"  # never "too deep": 100,000 unclosed "[" are simply not JSON
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # rejected for its encoding above; no text to scan
    assert scanned(text) == "invalid"


def expected_implementation_defined(name: str) -> tuple[str, str | None]:
    """Our documented choice for an i_ file: (outcome, a fragment of the note it must carry)."""
    if name in ("i_number_huge_exp.json", "i_number_neg_int_huge_exp.json", "i_number_pos_double_huge_exp.json",
                "i_number_real_neg_overflow.json", "i_number_real_pos_overflow.json"):
        return "valid", "beyond the range of a double"
    if name in ("i_number_too_big_neg_int.json", "i_number_too_big_pos_int.json", "i_number_very_big_negative_int.json"):
        return "valid", "beyond 2**53"
    if name.startswith("i_number_") or name == "i_structure_500_nested_arrays.json":
        return "valid", None  # underflow to 0; 500 levels is within the decoder's depth
    if name == "i_structure_UTF-8_BOM_empty_object.json":
        return "invalid", "byte order mark"
    try:
        (SUITE / name).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "invalid", "MUST be UTF-8"  # invalid UTF-8, Latin-1, UTF-16
    return "valid", "unpaired UTF-16 surrogate"  # lone or inverted surrogate escapes


@pytest.mark.parametrize("name", cases("i_"))
def test_implementation_defined_as_documented(name):
    want, note = expected_implementation_defined(name)
    data = (SUITE / name).read_bytes()
    assert outcome(data) == want
    if want == "valid":
        _, notes = rfc8259.loads_bytes(data)
        assert (note is None and not notes) or any(note in n for n in notes), notes
    else:
        with pytest.raises(rfc8259.NotJSON, match=note):
            rfc8259.loads_bytes(data)


def ans(text: str) -> Generation:
    return Generation(raw=text, text=text, finish_reason="stop", prompt_tokens=0, completion_tokens=0)


SAMPLE = {"check": "json", "schema": {"type": "array"}}


@pytest.mark.parametrize("text", ["[" * 100_000, '[{"":' * 50_000, '{"a":' * 3000 + "1"], ids=["arrays", "objects", "names"])
def test_unclosed_input_is_invalid_at_any_depth_in_every_check(text):
    for check in (json_valid(mode="strict"), json_valid(mode="lenient"), json_schema()):
        score = check(SAMPLE, ans(text))
        assert score.value == 0.0, (check, score.reason)


def test_one_bracket_short_is_invalid_strictly():
    text = "[" * 5000 + "]" * 4999
    strict = json_valid(mode="strict")(SAMPLE, ans(text))
    assert strict.value == 0.0 and "1 brackets left open" in strict.reason
    # lenient looks for a value inside the text, and from the second "[" on there is one, valid but too deep
    assert json_valid(mode="lenient")(SAMPLE, ans(text)).value is None


def test_deep_valid_json_is_a_documented_unscored():
    text = "[" * 5000 + "]" * 5000
    for check in (json_valid(mode="strict"), json_valid(mode="lenient"), json_schema()):
        score = check(SAMPLE, ans(text))
        assert score.value is None and ("valid JSON, but it nests deeper" in score.reason or "too deeply" in score.reason)
    broken = json_valid(mode="strict")(SAMPLE, ans(text + "x"))
    assert broken.value == 0.0 and "not JSON: 'x'" in broken.reason


def test_integers_of_any_length_are_valid_and_noted():
    strict = json_valid(mode="strict")
    big = strict(SAMPLE, ans("9" * 4301))  # one digit over Python's int-string limit
    assert big.value == 1.0 and "(4301 digits) is beyond the range of a double" in big.reason
    assert rfc8259.loads("-" + "7" * 10_000)[0] == -(10 ** 10_000 - 1) // 9 * 7  # exact, all 10,000 digits
    googol = strict(SAMPLE, ans("1" + "0" * 400))
    assert googol.value == 1.0 and "beyond the range of a double" in googol.reason
    unsafe = strict(SAMPLE, ans(str(2 ** 53 + 1)))
    assert unsafe.value == 1.0 and "beyond 2**53" in unsafe.reason
    assert strict(SAMPLE, ans(str(2 ** 53 - 1))).reason == "strict: one JSON value"
    # the schema check reads it too, and says why it cannot quote it rather than crashing
    schema = json_schema()({"schema": {"type": "string"}}, ans("9" * 5000))
    assert schema.value is None and "too long" in schema.reason
    assert json_schema()({"schema": {"type": "integer"}}, ans("9" * 5000)).value == 1.0


def test_a_megabyte_integer_is_valid_in_linear_time():
    """Over 20,000 digits the value is an exact Decimal (int() would take minutes at a million)."""
    from decimal import Decimal

    value, notes = rfc8259.loads("-" + "3" * 1_000_000)
    assert isinstance(value, Decimal) and value == Decimal("-" + "3" * 1_000_000) and "beyond the range of a double" in notes[0]
    assert json_schema()({"schema": {"type": "integer", "maximum": 0}}, ans("-" + "3" * 30_000)).value == 1.0
    assert json_schema()({"schema": {"type": "integer"}}, ans("3" * 30_000 + ".5")).value == 0.0
