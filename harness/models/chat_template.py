"""Chat templates for masking: which tokens of a conversation are the assistant's.

The mask comes from the tokenizer's own template through transformers'
`return_assistant_tokens_mask`, which needs `{% generation %}` markers in the template.
Templates without them get a training variant, in this order:

1. ours for Qwen3's templates (harness/models/template_variants.py: first release, the later
   revision, Instruct-2507), each used only after it keeps its written rule token by token on
   probe conversations (the rule: docs/training.md, "Qwen3's chat templates");
2. TRL's `get_training_chat_template` (it knows Llama 3, Gemma, Phi, ... templates);
3. our patch for the common ChatML form `'<|im_start|>' + role + '\\n' + content + '<|im_end|>'`
   (SmolLM2 among others), which TRL refuses to patch.

2 and 3 are only used after checking they render byte-identical text to the original on probe
conversations and that their mask is not empty (for ChatML turns: exactly each answer and its
`<|im_end|>`). Failing those, a template that is prefix-stable on the probes is masked by rendered
prefixes (`prefix_mask`, no markers needed); otherwise we stop with an error.
"""

from __future__ import annotations

import re

from harness.errors import HarnessError
from harness.models.template_variants import TURN_START, check_variant, identical_rule, verified_variant

_PROBES = [
    [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello! How can I help?"}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6"},
    ],
]

# `{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}`
# (quotes and spacing vary between models).
_CHATML_TURN = re.compile(
    r"\{\{-?\s*(?P<q>['\"])<\|im_start\|>(?P=q)\s*\+\s*message\[(?P<q2>['\"])role(?P=q2)\]\s*\+\s*"
    r"(?P=q)(?:\\n|\n)(?P=q)\s*\+\s*message\[(?P=q2)content(?P=q2)\]\s*\+\s*(?P=q)<\|im_end\|>(?P=q)\s*"
    r"\+\s*(?P=q)(?:\\n|\n)(?P=q)\s*-?\}\}"
)
_CHATML_TRAINING_TURN = (
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endif -%}"
)


def has_generation_markers(template: str) -> bool:
    return bool(re.search(r"\{%-?\s*generation\s*-?%\}", template))


def require_chat_template(tokenizer, where: str) -> str:
    template = tokenizer.chat_template
    if isinstance(template, dict):
        template = template.get("default")
    if not template:
        raise HarnessError(
            f"{where}: the tokenizer has no chat template; use an instruct/chat checkpoint or add a "
            "chat_template to its tokenizer_config.json"
        )
    return template


def training_chat_template(tokenizer, where: str) -> str:
    """A template with generation markers that renders like the tokenizer's own: identically, or for
    Qwen3's templates by the written rule of its variant (harness/models/template_variants.py)."""
    original = require_chat_template(tokenizer, where)
    if has_generation_markers(original):
        return original
    variant, closest = verified_variant(tokenizer, original)
    if variant is not None:
        return variant.template
    candidates = []
    try:
        from trl.chat_template_utils import get_training_chat_template

        patched = get_training_chat_template(tokenizer)
        candidates.append(("TRL's variant", patched or original))
    except ValueError:
        pass  # TRL does not know this template; try ours
    if _CHATML_TURN.search(original):
        candidates.append(("the ChatML patch", _CHATML_TURN.sub(lambda _m: _CHATML_TRAINING_TURN, original, count=1)))
    for source, candidate in candidates:
        if not (has_generation_markers(candidate) and renders_identically(tokenizer, original, candidate)):
            continue
        if TURN_START in tokenizer.apply_chat_template(_PROBES[0], tokenize=False, chat_template=original):  # ChatML turns: the mask must also be exactly each answer and its <|im_end|>
            _passed, problem = check_variant(tokenizer, original, identical_rule(candidate))
            if problem:
                closest = closest or f"{source}: {problem}"
                continue
        return candidate
    problem = prefix_masking_problem(tokenizer, original)
    if problem is None:
        return original  # no markers: assistant_mask masks it by rendered prefixes
    closest = closest or f"masking by rendered prefixes: {problem}"
    raise HarnessError(
        f"{where}: the chat template has no {{% generation %}} markers and no verified training "
        "variant exists (neither TRL's nor the ChatML patch renders identically"
        + (f"; closest, {closest}" if closest else "")
        + "); add {% generation %} markers around the assistant turns of the template (the chat_template "
        "of its tokenizer_config.json), or use a model whose template has them"
    )


def renders_identically(tokenizer, original: str, candidate: str) -> bool:
    """Same text for every probe, and the candidate marks at least one assistant token."""
    for messages in _PROBES:
        a = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=original)
        b = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=candidate)
        if a != b:
            return False
        out = tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True, chat_template=candidate
        )
        if 1 not in out["assistant_masks"]:
            return False
    return True


def assistant_mask(tokenizer, messages: list[dict], template: str) -> tuple[list[int], list[int]]:
    """Token ids of a conversation and a 0/1 mask of the assistant's tokens (end-of-turn included):
    from the template's generation markers, or by rendered prefixes for a template without them
    that `training_chat_template` found prefix-stable."""
    if not has_generation_markers(template):
        return prefix_mask(tokenizer, messages, template)
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True, chat_template=template
    )
    return list(out["input_ids"]), list(out["assistant_masks"])


class NotPrefixStable(Exception):
    pass


def prefix_mask(tokenizer, messages: list[dict], template: str) -> tuple[list[int], list[int]]:
    """The general method: assistant turn i is the text between the rendering of the turns before it
    with the generation prompt and the rendering up to it, each a prefix of the whole conversation's
    rendering (else NotPrefixStable); trained up to and including its end-of-turn token (a special
    token), not the whitespace after it."""
    def render(msgs, gen=False):
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen, chat_template=template)

    full = render(messages)
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
    specials = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    mask = [0] * len(ids)
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt, upto = render(messages[:i], gen=True), render(messages[: i + 1])
        if not (full.startswith(upto) and upto.startswith(prompt)):
            raise NotPrefixStable(f"turn {i} renders differently once later turns follow")
        prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if ids[: len(prompt_ids)] != prompt_ids:
            raise NotPrefixStable(f"the prompt of turn {i} tokenizes differently inside the conversation")
        span = [k for k, (a, b) in enumerate(offsets) if len(prompt) <= a and b <= len(upto) and b > a]
        if any(a < len(prompt) < b or a < len(upto) < b for a, b in offsets):
            raise NotPrefixStable(f"a token crosses the edge of turn {i}")
        while span and not tokenizer.decode([ids[span[-1]]]).strip():
            span.pop()  # the newline after the end-of-turn token belongs to no turn
        if not span or ids[span[-1]] not in specials:
            raise NotPrefixStable(f"turn {i} does not end in a special end-of-turn token")
        for k in span:
            mask[k] = 1
    return ids, mask


def prefix_masking_problem(tokenizer, template: str) -> str | None:
    """None when masking by rendered prefixes is right for this template on the probe conversations
    (system, user and assistant turns: what training data holds), else why not."""
    from jinja2 import TemplateError

    from harness.models.template_variants import PROBES

    for name, messages, kwargs in PROBES:
        if "tools" in kwargs or kwargs or any(set(m) - {"role", "content"} for m in messages):
            continue
        try:
            _ids, mask = prefix_mask(tokenizer, messages, template)
        except NotPrefixStable as e:
            return f"probe '{name}': {e}"
        except (TemplateError, TypeError, ValueError) as e:
            return f"probe '{name}': rendering failed ({type(e).__name__}: {e})"
        if 1 not in mask:
            return f"probe '{name}': no assistant token"
    return None
