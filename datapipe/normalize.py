"""Normalizers: the common dataset shapes turned into the `messages` schema.

    messages / conversations   a list of {role, content} (OpenAI) or {from, value} (ShareGPT:
                               human/gpt/system/tool...); an optional top-level `system`
    alpaca                     instruction, optional input, output; an optional `system`
    fields                     single-turn rows whose columns the recipe names:
                               fields: {user: question, assistant: answer, system: sys}

`format: auto` (the default) picks the first of messages, conversations, alpaca whose keys the
row has. Optional row keys kept: `id`, `tags`, `tools`, and on messages `reasoning_content`,
`tool_calls`, `tool_call_id`, `name`. Every row comes out normalised or with the reason it
cannot be: nothing is dropped without a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from datapipe.schema import clean_text, content_hash, conversation_problem, dumps

FORMATS = ("auto", "messages", "sharegpt", "alpaca", "fields")

# ShareGPT speakers (and a few spellings seen in the wild) -> roles.
_SPEAKERS = {
    "system": "system",
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bard": "assistant",
    "bing": "assistant", "model": "assistant",
    "tool": "tool", "function": "tool", "observation": "tool", "function_response": "tool",
}


@dataclass
class Normalized:
    messages_json: str
    tools_json: str | None
    message_keys: list[str]  # the optional message keys used (for the Arrow export's one schema)
    tags: list[str]
    id: str | None
    hash: str


def normalize_row(row: dict, fmt: str, fields: dict | None, source_tags: list[str],
                  max_chars: int | None) -> Normalized | str:
    """The row in the schema, or the reason it cannot be (a short phrase for the counts table)."""
    if not isinstance(row, dict):
        return "not a JSON object"
    shape = _shape(row) if fmt == "auto" else fmt
    if shape is None:
        keys = ", ".join(sorted(map(str, row))[:6]) or "none"
        return (f"unknown shape (keys: {keys}); expected messages, conversations, instruction/output, "
                "or name the columns with format: fields")
    if shape == "fields":
        messages = _from_fields(row, fields or {})
    elif shape == "alpaca":
        messages = _from_alpaca(row)
    else:
        key = "conversations" if shape == "sharegpt" and "conversations" in row else "messages"
        messages = _from_turns(row, key)
    if isinstance(messages, str):
        return messages
    problem = conversation_problem(messages)
    if problem:
        return problem
    tools = row.get("tools")
    if isinstance(tools, str) and tools.strip():
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError:
            return "tools is a string that is not JSON"
    if tools in (None, "", []):
        tools = None
    elif not isinstance(tools, list):
        return "tools must be a list of tool schemas"
    messages_json = dumps(messages)
    if max_chars and sum(len(m["content"]) for m in messages) > max_chars:
        return f"longer than max_chars ({max_chars})"
    tools_json = dumps(tools) if tools else None
    tags = _tags(row.get("tags"), source_tags)
    if isinstance(tags, str):
        return tags
    row_id = row.get("id")
    row_id = None if row_id is None or isinstance(row_id, bool) else str(row_id)
    keys = sorted({k for m in messages for k in m} - {"role", "content"})
    return Normalized(messages_json, tools_json, keys, tags, row_id, content_hash(messages_json, tools_json))


def _shape(row: dict) -> str | None:
    if isinstance(row.get("messages"), list):
        return "messages"
    if isinstance(row.get("conversations"), list):
        return "sharegpt"
    if "instruction" in row and "output" in row:
        return "alpaca"
    return None


def _from_turns(row: dict, key: str) -> list[dict] | str:
    turns = row.get(key)
    if not isinstance(turns, list):
        return f"'{key}' must be a list of turns"
    messages = []
    system = row.get("system")
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": clean_text(system)})
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            return f"turn {i} is not an object"
        speaker = turn.get("role", turn.get("from"))
        role = _SPEAKERS.get(str(speaker).lower()) if speaker is not None else None
        if role is None:
            return f"turn {i}: unknown role {speaker!r}"
        content = turn.get("content", turn.get("value"))
        if content is None and role == "assistant" and turn.get("tool_calls"):
            content = ""
        if not isinstance(content, str):
            return f"turn {i} ({role}): content must be a string"
        message = {"role": role, "content": clean_text(content)}
        if role == "assistant":
            reasoning = turn.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning.strip():
                message["reasoning_content"] = clean_text(reasoning)
            if turn.get("tool_calls"):
                calls = _tool_calls(turn["tool_calls"])
                if isinstance(calls, str):
                    return f"turn {i}: {calls}"
                message["tool_calls"] = calls
        elif role == "tool":
            for extra in ("tool_call_id", "name"):
                if isinstance(turn.get(extra), str):
                    message[extra] = turn[extra]
        if i == 0 and role == "system" and messages:
            return "two system messages (a top-level 'system' and a system turn)"
        messages.append(message)
    return messages


def _tool_calls(calls) -> list[dict] | str:
    """OpenAI-style calls; a flat {name, arguments} is wrapped as {type: function, function: ...}.

    Arguments become JSON text, as in the OpenAI API: one type in Arrow whatever their shape, and
    templates render them like a mapping (`tojson` spells JSON the same way)."""
    if not isinstance(calls, list):
        return "tool_calls must be a list"
    out = []
    for call in calls:
        if not isinstance(call, dict):
            return "a tool call is not an object"
        function = call.get("function", call)
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            return "a tool call has no function name"
        normal = {"type": "function"}
        if isinstance(call.get("id"), str):
            normal["id"] = call["id"]
        arguments = function.get("arguments", {})
        normal["function"] = {"name": name, "arguments": arguments if isinstance(arguments, str) else dumps(arguments)}
        out.append(normal)
    return out


def _from_alpaca(row: dict) -> list[dict] | str:
    instruction, extra, output = row.get("instruction"), row.get("input"), row.get("output")
    if not isinstance(instruction, str) or not isinstance(output, str):
        return "alpaca row needs string 'instruction' and 'output'"
    prompt = clean_text(instruction)
    if isinstance(extra, str) and extra.strip():
        prompt = f"{prompt}\n\n{clean_text(extra)}"
    messages = []
    if isinstance(row.get("system"), str) and row["system"].strip():
        messages.append({"role": "system", "content": clean_text(row["system"])})
    return messages + [{"role": "user", "content": prompt}, {"role": "assistant", "content": clean_text(output)}]


def _from_fields(row: dict, fields: dict) -> list[dict] | str:
    messages = []
    for role in ("system", "user", "assistant"):
        column = fields.get(role)
        if column is None:
            continue
        value = row.get(column)
        if value is None or value == "":
            if role == "system":
                continue
            return f"missing field '{column}' ({role})"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # e.g. a math answer stored as a number
        if not isinstance(value, str):
            return f"field '{column}' ({role}) must be text"
        messages.append({"role": role, "content": clean_text(value)})
    return messages


def _tags(row_tags, source_tags: list[str]) -> list[str] | str:
    if row_tags is None:
        row_tags = []
    if isinstance(row_tags, str):
        row_tags = [row_tags]
    if not isinstance(row_tags, list) or not all(isinstance(t, str) for t in row_tags):
        return "tags must be a list of strings"
    return list(dict.fromkeys([*row_tags, *source_tags]))
