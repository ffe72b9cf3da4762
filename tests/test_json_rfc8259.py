"""Strict JSON per RFC 8259: what Python's json accepts beyond the RFC fails or is reported."""

from __future__ import annotations

import pytest

from harness.models.backends.base import Generation
from suites.scorers import rfc8259
from suites.scorers.json_checks import json_schema, json_valid

SAMPLE = {"check": "json", "schema": {"type": "object", "properties": {"score": {"type": "number"}}, "required": ["score"]}}


def ans(text: str) -> Generation:
    return Generation(raw=text, text=text, finish_reason="stop", prompt_tokens=0, completion_tokens=0)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_fail_every_json_check_with_the_reason(constant):
    text = f'{{"score": {constant}}}'
    for check in (json_valid(mode="strict"), json_valid(mode="lenient"), json_schema()):
        score = check(SAMPLE, ans(text))
        assert score.value == 0.0, (check, score)
        assert constant in score.reason and "RFC 8259" in score.reason, score.reason


def test_nan_inside_a_fence_or_prose_is_named_not_hidden_behind_no_json_found():
    lenient = json_valid(mode="lenient")
    fenced = lenient(SAMPLE, ans('Here you go:\n```json\n{"score": NaN}\n```'))
    assert fenced.value == 0.0 and "NaN is not a JSON value" in fenced.reason
    prose = lenient(SAMPLE, ans('The result is {"score": [1, Infinity]} as requested.'))
    assert prose.value == 0.0 and "Infinity is not a JSON value" in prose.reason


def test_a_quoted_nan_is_an_ordinary_string():
    assert json_valid(mode="strict")(SAMPLE, ans('{"score": "NaN"}')).value == 1.0


def test_only_json_whitespace_may_surround_a_strict_value():
    strict = json_valid(mode="strict")
    assert strict(SAMPLE, ans(' \t\r\n{"score": 1}\n')).value == 1.0
    ideographic = strict(SAMPLE, ans('{"score": 1}\u3000'))  # str.strip() would remove it
    assert ideographic.value == 0.0 and "extra text" in ideographic.reason
    assert strict(SAMPLE, ans('\u00a0{"score": 1}')).value == 0.0


def test_duplicate_names_pass_but_are_reported():
    for check in (json_valid(mode="strict"), json_valid(mode="lenient"), json_schema()):
        score = check(SAMPLE, ans('{"score": 1, "score": 2}'))
        assert score.value == 1.0 and "duplicate name 'score'" in score.reason, score.reason
    nested = json_valid(mode="strict")(SAMPLE, ans('[{"a": 1}, {"b": {"c": 1, "c": 1}}]'))
    assert "duplicate name 'c'" in nested.reason


def test_unpaired_surrogates_and_huge_numbers_are_reported():
    strict = json_valid(mode="strict")
    lone = strict(SAMPLE, ans('{"s": "\\ud800x"}'))
    assert lone.value == 1.0 and "unpaired" in lone.reason
    paired = strict(SAMPLE, ans('{"s": "\\ud83d\\ude00"}'))
    assert paired.value == 1.0 and "unpaired" not in paired.reason
    huge = strict(SAMPLE, ans('{"score": 1e400}'))
    assert huge.value == 1.0 and "beyond the range of a double" in huge.reason


def test_loads_returns_value_and_notes_and_raises_with_position():
    assert rfc8259.loads('{"a": [1, 2.5, null, true]}') == ({"a": [1, 2.5, None, True]}, [])
    with pytest.raises(rfc8259.NotJSON, match="line 1 column"):
        rfc8259.loads('{"a": }')
    with pytest.raises(rfc8259.NotJSON, match="empty"):
        rfc8259.loads(" \n")
