"""Normalizers (messages, ShareGPT, Alpaca, recipe field maps) and the messages schema rules."""

from __future__ import annotations

import json

import pytest

from datapipe.normalize import Normalized, normalize_row
from datapipe.schema import clean_text, conversation_problem


def messages_of(result) -> list[dict]:
    assert isinstance(result, Normalized), result
    return json.loads(result.messages_json)


def test_messages_rows_keep_reasoning_tool_calls_tools_id_and_tags():
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    row = {
        "id": 7, "tags": ["weather"], "tools": tools, "extra": "dropped",
        "messages": [
            {"role": "user", "content": "Weather in Edmonton tomorrow?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Edmonton"}}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 12}'},
            {"role": "assistant", "content": "Cloudy, about 12°C.", "reasoning_content": "12 from the tool", "weight": 1},
        ],
    }
    result = normalize_row(row, "auto", None, ["en"], None)
    messages = messages_of(result)
    assert messages[1] == {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "id": "call_1", "function": {"name": "get_weather", "arguments": '{"city": "Edmonton"}'}}]}
    assert messages[2] == {"role": "tool", "content": '{"temp_c": 12}', "tool_call_id": "call_1"}
    assert messages[3] == {"role": "assistant", "content": "Cloudy, about 12°C.", "reasoning_content": "12 from the tool"}
    assert json.loads(result.tools_json) == tools
    assert result.id == "7" and result.tags == ["weather", "en"]


def test_sharegpt_speakers_and_top_level_system():
    row = {"system": "Be brief.", "conversations": [
        {"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"},
        {"from": "human", "value": "and 3+3?"}, {"from": "gpt", "value": "6"}]}
    assert messages_of(normalize_row(row, "auto", None, [], None)) == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"}, {"role": "user", "content": "and 3+3?"},
        {"role": "assistant", "content": "6"}]


def test_sharegpt_unknown_speaker_is_a_reason():
    row = {"conversations": [{"from": "narrator", "value": "Once"}, {"from": "gpt", "value": "upon"}]}
    assert normalize_row(row, "sharegpt", None, [], None) == "turn 0: unknown role 'narrator'"


def test_alpaca_joins_instruction_and_input():
    row = {"instruction": "Translate to French.", "input": "cat", "output": "chat"}
    assert messages_of(normalize_row(row, "auto", None, [], None)) == [
        {"role": "user", "content": "Translate to French.\n\ncat"}, {"role": "assistant", "content": "chat"}]
    no_input = {"instruction": "Say hi.", "input": "", "output": "hi", "system": "Be kind."}
    assert messages_of(normalize_row(no_input, "alpaca", None, [], None))[:2] == [
        {"role": "system", "content": "Be kind."}, {"role": "user", "content": "Say hi."}]


def test_field_map_from_the_recipe_turns_numbers_into_text():
    row = {"question": "芳芳有99页书，看了90页，还剩几页？", "golden": 9}
    fields = {"user": "question", "assistant": "golden"}
    assert messages_of(normalize_row(row, "fields", fields, ["math", "zh"], None)) == [
        {"role": "user", "content": "芳芳有99页书，看了90页，还剩几页？"}, {"role": "assistant", "content": "9"}]
    assert normalize_row({"question": "q"}, "fields", fields, [], None) == "missing field 'golden' (assistant)"


def test_unknown_shape_names_the_expected_ones():
    reason = normalize_row({"prompt": "p", "completion": "c"}, "auto", None, [], None)
    assert reason.startswith("unknown shape (keys: completion, prompt)") and "format: fields" in reason


def test_clean_text_removes_control_characters_and_unifies_newlines():
    assert clean_text("  a\r\nb\x00c\x1b\td\re  ") == "a\nbc\td\ne"
    row = {"messages": [{"role": "user", "content": " hi\x07 "}, {"role": "assistant", "content": "yo\r\n"}]}
    assert messages_of(normalize_row(row, "auto", None, [], None)) == [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]


def test_equal_conversations_after_cleaning_have_equal_hashes():
    a = normalize_row({"messages": [{"role": "user", "content": "hi "}, {"role": "assistant", "content": "yo"}]},
                      "auto", None, [], None)
    b = normalize_row({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
                      "auto", None, ["other"], None)
    assert a.hash == b.hash


def test_max_chars_rejects_long_rows():
    row = {"instruction": "x" * 50, "output": "y" * 60}
    assert normalize_row(row, "auto", None, [], 100) == "longer than max_chars (100)"
    assert isinstance(normalize_row(row, "auto", None, [], 200), Normalized)


U = {"role": "user", "content": "q"}
A = {"role": "assistant", "content": "a"}
CALL = {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]}
TOOL = {"role": "tool", "tool_call_id": "c1", "content": "42"}


@pytest.mark.parametrize("messages, problem", [
    ([], "no messages"),
    ([U, {"role": "assistant", "content": "  "}], "message 1: empty assistant turn"),
    ([U, U, A], "message 1: roles out of order (user after user)"),
    ([A], "message 0: roles out of order (assistant after the start)"),
    ([U, A, {"role": "system", "content": "s"}, U, A], "message 2: a system message may only come first"),
    ([{"role": "bot", "content": "x"}], "message 0: unknown role 'bot'"),
    ([U, A, U], "the last turn is 'user'"),
    ([U, CALL, A], "message 2: assistant turn before the assistant's tool calls are answered"),
    ([U, CALL], "tool call 'c1' of the last assistant turn is not answered by a tool turn"),
    ([U, A, TOOL, A], "message 2: a tool turn that answers no tool call"),
    ([U, CALL, dict(TOOL, tool_call_id="c9"), A], "message 2: tool turn answers call 'c9'"),
    ([U, {"role": "user", "content": ""}], "message 1: roles out of order"),
])
def test_schema_problems(messages, problem):
    found = conversation_problem(messages)
    assert found is not None and found.startswith(problem), found


@pytest.mark.parametrize("messages", [
    [U, A],
    [{"role": "system", "content": "s"}, U, A, U, A],
    [U, CALL, TOOL, A],
    [U, dict(CALL, tool_calls=CALL["tool_calls"] * 2), dict(TOOL, tool_call_id=None), dict(TOOL, tool_call_id=None), A],
])
def test_valid_conversations(messages):
    assert conversation_problem(messages) is None
