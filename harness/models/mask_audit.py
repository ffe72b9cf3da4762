"""Mask audit (a wrong chat template or loss mask is the most common SFT bug).

Renders conversations with the exact template and mask training will use and counts which tokens
are trained: trained vs ignored, any system/user token trained, whether each assistant turn's
end-of-turn token is trained (else the model never learns to stop), how many empty
`<think></think>` blocks are rendered and whether their tokens are trained (Qwen3's training
variants keep them out of the mask, like the prompt of `enable_thinking=false`: docs/training.md). `harness train` runs it first and refuses to start on a
mask that trains nothing or trains user text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from rich.text import Text

from harness.models.chat_template import assistant_mask

_EMPTY_THINK = re.compile(r"<think>\s*</think>")


@dataclass
class AuditReport:
    examples: int = 0
    trained_tokens: int = 0
    ignored_tokens: int = 0
    trained_user_tokens: int = 0
    trained_system_tokens: int = 0
    assistant_turns: int = 0
    end_of_turn_trained: int = 0
    empty_think_blocks: int = 0
    empty_think_tokens_trained: int = 0
    problems: list[str] = field(default_factory=list)  # training must not start
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return asdict(self) | {"ok": self.ok}


def _spans(text: str, messages: list[dict]) -> list[tuple[int, int, str]]:
    """Character spans of each message's content in the rendered text, in order (an assistant
    message's answer after its `</think>`: templates such as Qwen3's re-render the thinking part)."""
    spans, pos = [], 0
    for m in messages:
        content = m["content"]
        if m["role"] == "assistant" and "</think>" in content:
            content = content.split("</think>")[-1].lstrip("\n")
        start = text.find(content, pos)
        if start < 0 or not content:
            continue
        spans.append((start, start + len(content), m["role"]))
        pos = start + len(content)
    return spans


def _token_view(tokenizer, messages: list[dict], template: str):
    """(ids, mask, offsets, text) with offsets aligned to the ids the mask was built on."""
    ids, mask = assistant_mask(tokenizer, messages, template)
    text = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=template)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"] if list(enc["input_ids"]) == list(ids) else None
    return ids, mask, offsets, text


def audit_mask(tokenizer, conversations: list[list[dict]], template: str, end_of_turn_ids: set[int]) -> AuditReport:
    report = AuditReport()
    for messages in conversations:
        ids, mask, offsets, text = _token_view(tokenizer, messages, template)
        report.examples += 1
        report.trained_tokens += sum(mask)
        report.ignored_tokens += len(mask) - sum(mask)
        if offsets is None:
            continue  # cannot attribute tokens to messages for this tokenizer; counts above still hold
        spans = _spans(text, messages)
        think = [(m.start(), m.end()) for m in _EMPTY_THINK.finditer(text)]
        report.empty_think_blocks += len(think)
        for (s, e), trained in zip(offsets, mask):
            if not trained:
                continue
            role = next((r for a, b, r in spans if a <= s < b), None)
            if role == "user":
                report.trained_user_tokens += 1
            elif role == "system":
                report.trained_system_tokens += 1
            if any(a <= s < b for a, b in think):
                report.empty_think_tokens_trained += 1
        for a, b, role in spans:
            if role != "assistant":
                continue
            report.assistant_turns += 1
            after = next((i for i, (s, _e) in enumerate(offsets) if s >= b and ids[i] in end_of_turn_ids), None)
            if after is not None and mask[after]:
                report.end_of_turn_trained += 1
    _judge(report)
    return report


def _judge(r: AuditReport) -> None:
    if r.trained_tokens == 0:
        r.problems.append("the mask trains no token at all (check the chat template's generation markers)")
    if r.trained_user_tokens or r.trained_system_tokens:
        r.problems.append(
            f"the mask trains {r.trained_user_tokens} user and {r.trained_system_tokens} system tokens; "
            "only assistant tokens should be trained (check the template's {% generation %} markers)"
        )
    if r.assistant_turns and r.end_of_turn_trained < r.assistant_turns:
        r.warnings.append(
            f"the end-of-turn token is trained in {r.end_of_turn_trained} of {r.assistant_turns} assistant turns: "
            "the model will not learn to stop"
        )
    if r.empty_think_tokens_trained:
        r.warnings.append(f"{r.empty_think_tokens_trained} tokens of empty <think></think> blocks are trained")


def render_example(tokenizer, messages: list[dict], template: str) -> Text:
    """The conversation as the model sees it: trained tokens highlighted, ignored tokens dim."""
    ids, mask, _offsets, _text = _token_view(tokenizer, messages, template)
    out = Text()
    for token_id, trained in zip(ids, mask):
        piece = tokenizer.decode([token_id])
        out.append(piece, style="bold black on green" if trained else "dim")
    return out


def summary_lines(r: AuditReport) -> list[str]:
    total = r.trained_tokens + r.ignored_tokens
    share = r.trained_tokens / total if total else 0.0
    lines = [
        f"examples audited: {r.examples}",
        f"trained tokens: {r.trained_tokens} ({share:.1%}), ignored: {r.ignored_tokens}",
        f"system/user tokens trained: {r.trained_system_tokens}/{r.trained_user_tokens}",
        f"end-of-turn trained: {r.end_of_turn_trained}/{r.assistant_turns} assistant turns",
        f"empty <think></think> blocks: {r.empty_think_blocks} rendered, {r.empty_think_tokens_trained} tokens trained"
        + (" (outside the mask, as the prompt of enable_thinking=false)"
           if r.empty_think_blocks and not r.empty_think_tokens_trained else ""),
    ]
    lines += [f"PROBLEM: {p}" for p in r.problems] + [f"warning: {w}" for w in r.warnings]
    return lines
