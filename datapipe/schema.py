"""The `messages` schema every source is normalised to, and its rules.

A row is `{"id", "messages": [{role, content, ...}], "source", "tags", "tools"}`. Messages keep
`role` and `content`, plus `reasoning_content` and `tool_calls` on assistant turns and
`tool_call_id` / `name` on tool turns; other keys are dropped. The rules here are the same for
`harness data build` (a row that breaks one is rejected with the reason) and `harness data check`
(the problem is printed with file and line).
"""

from __future__ import annotations

import hashlib
import json
import re

ROLES = ("system", "user", "assistant", "tool")
MESSAGE_KEYS = ("role", "content", "reasoning_content", "tool_calls", "tool_call_id", "name")

# C0 control characters other than tab and newline, DEL, and C1 controls: never meant as text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """Newlines made `\\n`, control characters removed, surrounding whitespace stripped."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def conversation_problem(messages: list[dict]) -> str | None:
    """The first way `messages` breaks the schema, or None.

    Order: an optional system message first, then user and assistant turns alternating; an
    assistant turn with `tool_calls` is followed by tool turns answering them, then an assistant
    turn; the last turn is the assistant's (the one training learns from).
    """
    if not isinstance(messages, list) or not messages:
        return "no messages"
    pending: list = []  # tool calls of the last assistant turn not yet answered
    previous = None
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ROLES:
            return f"message {i}: unknown role {role!r} (expected one of {', '.join(ROLES)})"
        content = m.get("content")
        if not isinstance(content, str):
            return f"message {i} ({role}): content must be a string"
        if role == "system":
            if i != 0:
                return f"message {i}: a system message may only come first"
            if not content.strip():
                return f"message {i}: empty system message"
        elif role == "user":
            if previous not in (None, "system", "assistant") or pending:
                return _out_of_order(i, role, previous, pending)
            if not content.strip():
                return f"message {i}: empty user turn"
        elif role == "assistant":
            if previous not in ("user", "tool") or pending:
                return _out_of_order(i, role, previous, pending)
            calls = m.get("tool_calls") or []
            if not content.strip() and not calls:
                return f"message {i}: empty assistant turn"
            pending = [_call_id(c) for c in calls]
        else:  # tool
            if previous not in ("assistant", "tool") or not pending:
                return f"message {i}: a tool turn that answers no tool call"
            answered = m.get("tool_call_id")
            if answered is not None and answered in pending:
                pending.remove(answered)
            elif answered is None or None in pending:
                pending.pop(0)  # without ids, tool turns answer the calls in order
            else:
                return f"message {i}: tool turn answers call {answered!r}, which the assistant did not make"
        previous = role
    if pending:
        which = f"tool call {pending[0]!r}" if pending[0] else "a tool call"
        return f"{which} of the last assistant turn is not answered by a tool turn"
    if previous != "assistant":
        return f"the last turn is {previous!r}; a training conversation ends with an assistant turn"
    return None


def _out_of_order(i: int, role: str, previous: str | None, pending: list) -> str:
    if pending:
        return f"message {i}: {role} turn before the assistant's tool calls are answered by tool turns"
    return f"message {i}: roles out of order ({role} after {previous or 'the start'})"


def _call_id(call) -> str | None:
    return call.get("id") if isinstance(call, dict) else None


def dumps(value) -> str:
    """The one JSON spelling used for hashing and export: non-ASCII kept, keys in the given order."""
    return json.dumps(value, ensure_ascii=False)


def content_hash(messages_json: str, tools_json: str | None) -> str:
    """MD5 of the normalised messages (and tools): equal conversations, equal hash."""
    h = hashlib.md5(messages_json.encode("utf-8"))
    if tools_json:
        h.update(b"\0tools\0" + tools_json.encode("utf-8"))
    return h.hexdigest()
