"""Training variants of Qwen3's chat templates, and the check that a variant renders as its rule says.

Qwen3's templates render an assistant turn differently by position: the last turn (and any turn
after the last user message that carries reasoning) gets a `<think>\\n...\\n</think>\\n\\n` block,
earlier turns are written without it. A training variant cannot render byte-identical text and
be prefix-stable at the same time, so each variant here has a written rule (docs/training.md,
"Qwen3's chat templates") and is used only after `check_variant` has shown, token by token on
the probe conversations below, that

- its text is the original's with exactly the rule's difference: with `generation_form`, every
  assistant turn is rendered as the original renders that turn when it is the conversation's
  last message (which only ever inserts a thinking block in front of the answer); without it,
  the text is identical;
- its mask (transformers' `return_assistant_tokens_mask` over the variant's `{% generation %}`
  markers) trains exactly each assistant turn's text and its `<|im_end|>`: not the role header,
  not the newline after `<|im_end|>`, and, with `empty_think_untrained`, not an empty
  `<think>\\n\\n</think>\\n\\n` block (the part `enable_thinking=false` writes into the prompt).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

VARIANT_DIR = Path(__file__).resolve().parent / "chat_templates"
TURN_START = "<|im_start|>assistant\n"
TURN_END = "<|im_end|>"
EMPTY_THINK = "<think>\n\n</think>\n\n"
_THINK_BLOCK = re.compile(r"<think>\n.*?\n</think>\n\n", re.S)


@dataclass(frozen=True)
class Variant:
    name: str  # file stem under chat_templates/
    original: str  # file stem of the original it is made for (chat_templates/README.md: where from)
    of: str  # that original in words
    generation_form: bool  # earlier assistant turns rendered as the last one is
    empty_think_untrained: bool  # an empty thinking block is outside the mask
    text: str | None = field(default=None, compare=False)  # the template itself, when not the stored file

    @property
    def template(self) -> str:
        return self.text if self.text is not None else _read(self.name)

    def made_for(self, template: str) -> bool:
        return template.strip() == _read(self.original).strip()


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    return (VARIANT_DIR / f"{name}.jinja").read_text(encoding="utf-8")


VARIANTS = (
    Variant("qwen3_first_release_training", "qwen3_first_release", "Qwen3, first release",
            generation_form=True, empty_think_untrained=True),
    Variant("qwen3_training", "qwen3", "Qwen3, later revision", generation_form=True, empty_think_untrained=True),
    Variant("qwen3_instruct_2507_training", "qwen3_instruct_2507", "Qwen3-Instruct-2507",
            generation_form=False, empty_think_untrained=False),
)

_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
_CALL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}

# (name, messages, extra keyword arguments of apply_chat_template)
_CONVERSATIONS = [
    ("one turn", [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello! How can I help?"}], {}),
    ("system and three turns", [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"}, {"role": "assistant", "content": "6, since 3+3=6."},
        {"role": "user", "content": "Thanks!"}, {"role": "assistant", "content": "You're welcome.\n\nBye."},
    ], {}),
    ("think blocks in earlier and last turns", [
        {"role": "user", "content": "Solve 2x + 5 = 13."},
        {"role": "assistant", "content": "<think>\nSubtract 5, divide by 2.\n</think>\n\nx = 4"},
        {"role": "user", "content": "And 3x = 12?"},
        {"role": "assistant", "content": "<think>\nDivide by 3.\n</think>\n\nx = 4 again."},
    ], {}),
    ("empty think blocks (non-thinking data)", [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "<think>\n\n</think>\n\nParis."},
        {"role": "user", "content": "Of Italy?"},
        {"role": "assistant", "content": "<think>\n\n</think>\n\nRome."},
    ], {}),
    ("reasoning_content field", [
        {"role": "user", "content": "Is 7 prime?"},
        {"role": "assistant", "content": "Yes.", "reasoning_content": "7 has no divisors but 1 and 7."},
        {"role": "user", "content": "Is 9?"},
        {"role": "assistant", "content": "No, 9 = 3 x 3.", "reasoning_content": "\n9 = 3*3\n"},
    ], {}),
    ("tool calls and tool responses", [
        {"role": "system", "content": "You can look up the weather."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [_CALL]},
        {"role": "tool", "name": "get_weather", "content": "18 C, sunny"},
        {"role": "assistant", "content": "It is 18 C and sunny in Paris."},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [_CALL, _CALL]},
        {"role": "tool", "name": "get_weather", "content": "20 C"},
        {"role": "tool", "name": "get_weather", "content": "21 C"},
        {"role": "assistant", "content": "About 20 C."},
    ], {"tools": _TOOLS}),
]
PROBES = [
    (f"{name}, {label}", messages, kwargs | extra)
    for name, messages, kwargs in _CONVERSATIONS
    for label, extra in (("template defaults", {}), ("enable_thinking=false", {"enable_thinking": False}),
                         ("enable_thinking=true", {"enable_thinking": True}))
]


class RuleBroken(Exception):
    """The variant does not render or mask as its rule says; the message says where."""


def _render(tokenizer, template: str, messages: list[dict], kwargs: dict) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, chat_template=template, **kwargs)


def expected_rendering(tokenizer, original: str, messages: list[dict], kwargs: dict, variant: Variant):
    """The text the variant must render, and the character spans it must train."""
    text = _render(tokenizer, original, messages, kwargs)
    assistant_at = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    starts = [m.end() for m in re.finditer(re.escape(TURN_START), text)]
    if len(starts) != len(assistant_at):
        raise RuleBroken(f"the original renders {len(starts)} assistant headers for {len(assistant_at)} assistant turns")
    out, spans, pos = "", [], 0
    for start, index in zip(starts, assistant_at):
        end = text.find(TURN_END, start)
        if end < 0:
            raise RuleBroken(f"the original renders assistant turn {index} without {TURN_END}")
        segment = text[start:end]
        if variant.generation_form:  # the turn as the original renders it last
            last = _render(tokenizer, original, messages[: index + 1], kwargs)
            at = last.rfind(TURN_START) + len(TURN_START)
            as_last = last[at: last.find(TURN_END, at)]
            if as_last != segment:  # the rule's only difference: a thinking block in front
                block = _THINK_BLOCK.match(as_last)
                if not block or as_last[block.end():] != segment.lstrip("\n"):
                    raise RuleBroken(f"assistant turn {index} differs from its last-turn form by more than a "
                                     f"thinking block: {segment!r} vs {as_last!r}")
            segment = as_last
        out += text[pos:start]
        trained_from = len(out) + (len(EMPTY_THINK) if variant.empty_think_untrained and segment.startswith(EMPTY_THINK) else 0)
        out += segment + TURN_END
        spans.append((trained_from, len(out)))
        pos = end + len(TURN_END)
    return out + text[pos:], spans


def _piece(tokenizer, token_id) -> str:
    return repr(tokenizer.decode([token_id]))


def check_probe(tokenizer, original: str, variant: Variant, messages: list[dict], kwargs: dict) -> None:
    expected, spans = expected_rendering(tokenizer, original, messages, kwargs, variant)
    out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                        chat_template=variant.template, **kwargs)
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    enc = tokenizer(expected, add_special_tokens=False, return_offsets_mapping=True)
    want = list(enc["input_ids"])
    for i, (a, b) in enumerate(zip(ids, want)):
        if a != b:
            raise RuleBroken(f"token {i} is {_piece(tokenizer, a)} where the rule renders {_piece(tokenizer, b)}")
    if len(ids) != len(want):
        raise RuleBroken(f"{len(ids)} tokens where the rule renders {len(want)}")
    for i, (s, e) in enumerate(enc["offset_mapping"]):
        inside = any(a <= s and e <= b for a, b in spans)
        if not inside and any(s < b and a < e for a, b in spans):
            raise RuleBroken(f"token {i} ({_piece(tokenizer, ids[i])}) straddles the edge of a trained span")
        if mask[i] != int(inside):
            what = "trains" if mask[i] else "does not train"
            raise RuleBroken(f"the mask {what} token {i} ({_piece(tokenizer, ids[i])}), against the rule")


def check_variant(tokenizer, original: str, variant: Variant) -> tuple[int, str | None]:
    """(probes passed, None) when the variant keeps its rule on every probe, else (passed, what broke)."""
    from jinja2 import TemplateError

    for passed, (name, messages, kwargs) in enumerate(PROBES):
        try:
            check_probe(tokenizer, original, variant, messages, kwargs)
        except RuleBroken as e:
            return passed, f"probe '{name}': {e}"
        except (TemplateError, TypeError, ValueError, KeyError, AttributeError) as e:
            return passed, f"probe '{name}': rendering failed ({type(e).__name__}: {e})"
    return len(PROBES), None


def identical_rule(template: str) -> Variant:
    """Another source's variant (TRL's, the ChatML patch) held to the rule of identical rendering."""
    return Variant("candidate", "", "another source", generation_form=False, empty_think_untrained=False, text=template)


def verified_variant(tokenizer, original: str) -> tuple[Variant | None, str | None]:
    """The variant made for this original if it keeps its rule, else the first other one that does (a
    template edited where the probes cannot tell, e.g. Thinking-2507's generation prompt); None and the
    problem of the one that came closest when none does."""
    best = (-1, None)
    order = sorted(enumerate(VARIANTS), key=lambda iv: (not iv[1].made_for(original), -iv[0]))  # then newest first
    for _i, variant in order:
        passed, problem = check_variant(tokenizer, original, variant)
        if problem is None:
            return variant, None
        # worth naming: the variant made for this template, or any for a template that knows <think>
        if passed > best[0] and (variant.made_for(original) or passed or "<think>" in original):
            best = (passed, f"{variant.name} ({variant.of}): {problem}")
    return None, best[1]
