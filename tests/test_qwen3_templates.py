"""Qwen3's real tokenizer with every chat template revision: each gets a training variant that keeps
its written rule (docs/training.md, "Qwen3's chat templates") token by token on the probes, the
mask audit reads right on multi-turn data, and a variant that drifts from its rule is refused."""

from __future__ import annotations

import dataclasses
import json

import pytest
from transformers import AutoTokenizer

from harness.errors import HarnessError
from harness.models import template_variants
from harness.models.backends.hf import end_of_turn_ids
from harness.models.chat_template import assistant_mask, training_chat_template
from harness.models.mask_audit import audit_mask, summary_lines
from harness.models.template_variants import PROBES, VARIANTS, check_variant
from qwen3_tokenizer import REVISIONS, template, write_tokenizer

MADE_FOR = {"first_release": "qwen3_first_release_training", "later": "qwen3_training",
            "instruct_2507": "qwen3_instruct_2507_training",
            "thinking_2507": "qwen3_training"}  # same rendering without a generation prompt: the probes tell
VARIANT = {v.name: v for v in VARIANTS}

# UltraChat-shaped: several turns, no thinking.
MULTI_TURN = [
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "What is QLoRA?"}, {"role": "assistant", "content": "LoRA on a 4-bit base model."},
     {"role": "user", "content": "Why 4-bit?"}, {"role": "assistant", "content": "It fits in less GPU memory."},
     {"role": "user", "content": "Thanks."}, {"role": "assistant", "content": "You're welcome!"}],
    [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7"},
     {"role": "user", "content": "Another?"}, {"role": "assistant", "content": "11"}],
]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    tokenizer = AutoTokenizer.from_pretrained(write_tokenizer(tmp_path_factory.mktemp("qwen3-tok")))
    own = tokenizer.chat_template
    yield tokenizer
    tokenizer.chat_template = own


def test_the_fixture_is_the_real_qwen3_tokenizer(tok):
    assert len(tok) == 151669 and tok.eos_token == "<|im_end|>"
    assert tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>", "<think>", "</think>"]) == [151644, 151645, 151667, 151668]
    assert tok.chat_template == template("first_release")  # the package's own template is the first release


def test_the_probes_cover_what_the_rule_is_about():
    kwargs = [k for _n, _m, k in PROBES]
    messages = [m for _n, ms, _k in PROBES for m in ms]
    assert {k.get("enable_thinking") for k in kwargs} == {None, False, True} and any("tools" in k for k in kwargs)
    assert any(m["role"] == "system" for m in messages) and any(m["role"] == "tool" for m in messages)
    assert any("tool_calls" in m for m in messages) and any("reasoning_content" in m for m in messages)
    # <think> blocks in an earlier assistant turn and in the last one of the same conversation
    assert any(sum("<think>" in m.get("content", "") for m in ms if m["role"] == "assistant") >= 2 for _n, ms, _k in PROBES)


@pytest.mark.parametrize("revision", sorted(REVISIONS))
def test_every_revision_trains_with_a_variant_that_keeps_its_rule(tok, revision):
    tok.chat_template = template(revision)
    chosen = training_chat_template(tok, f"qwen3 {revision}")
    assert chosen == VARIANT[MADE_FOR[revision]].template
    # the shipped variant keeps its rule on every probe (fails when a variant file drifts)
    assert check_variant(tok, template(revision), VARIANT[MADE_FOR[revision]]) == (len(PROBES), None)


def _trained_pieces(tok, messages, tmpl):
    out = tok.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                  chat_template=tmpl)
    pieces, current = [], []
    for token, trained in zip(out["input_ids"], out["assistant_masks"]):
        if trained:
            current.append(token)
        elif current:
            pieces.append(tok.decode(current))
            current = []
    return pieces + ([tok.decode(current)] if current else []), tok.decode(out["input_ids"])


@pytest.mark.parametrize("revision", ["first_release", "later"])
def test_the_rule_written_out_on_a_multi_turn_conversation(tok, revision):
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"},
                {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6"}]
    original = tok.apply_chat_template(messages, tokenize=False, chat_template=template(revision))
    # Qwen3 drops the earlier turn's thinking and writes an empty block only in the last turn
    assert original == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
                        "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n"
                        "<|im_start|>assistant\n<think>\n\n</think>\n\n6<|im_end|>\n")
    pieces, text = _trained_pieces(tok, messages, VARIANT[MADE_FOR[revision]].template)
    # the training rendering: the earlier turn in its generation form, with its thinking
    assert text == original.replace("assistant\n4", "assistant\n<think>\nadd\n</think>\n\n4")
    # trained: each turn's thinking (when not empty), answer and <|im_end|>; never the empty block or the newline
    assert pieces == ["<think>\nadd\n</think>\n\n4<|im_end|>", "6<|im_end|>"]


def test_instruct_2507_renders_identically_and_trains_content_and_end_of_turn(tok):
    messages = MULTI_TURN[1]
    original = tok.apply_chat_template(messages, tokenize=False, chat_template=template("instruct_2507"))
    pieces, text = _trained_pieces(tok, messages, VARIANT["qwen3_instruct_2507_training"].template)
    assert text == original and pieces == ["7<|im_end|>", "11<|im_end|>"]


def _drifted(name, old, new):
    variant = VARIANT[name]
    assert variant.template.count(old) == 1
    return dataclasses.replace(variant, text=variant.template.replace(old, new))


END = "{{- '<|im_end|>' }}\n        {%- endgeneration %}\n        {{- '\\n' }}"
DRIFTS = {
    "the newline after <|im_end|> trained": (
        "qwen3_training", END, "{{- '<|im_end|>\\n' }}\n        {%- endgeneration %}", "the mask trains token"),
    "the empty thinking block trained": (
        "qwen3_training", "{%- if not reasoning_content.strip('\\n') %}\n            {{- '<think>\\n\\n</think>\\n\\n' }}\n        {%- endif %}\n        {%- generation %}",
        "{%- generation %}\n        {%- if not reasoning_content.strip('\\n') %}\n            {{- '<think>\\n\\n</think>\\n\\n' }}\n        {%- endif %}",
        "the mask trains token"),
    "a different thinking block": (
        "qwen3_first_release_training", "{{- '<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' }}",
        "{{- '<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n' }}", "where the rule renders"),
    "<|im_end|> left out of the mask": (
        "qwen3_instruct_2507_training", END, "{%- endgeneration %}\n        {{- '<|im_end|>\\n' }}",
        "does not train token"),
}


@pytest.mark.parametrize("drift", sorted(DRIFTS))
def test_a_variant_that_drifts_from_its_rule_is_refused(tok, drift, monkeypatch):
    name, old, new, says = DRIFTS[drift]
    revision = {v: k for k, v in MADE_FOR.items() if k != "thinking_2507"}[name]
    drifted = _drifted(name, old, new)
    passed, problem = check_variant(tok, template(revision), drifted)
    assert problem is not None and says in problem and passed < len(PROBES)
    monkeypatch.setattr(template_variants, "VARIANTS", (drifted,))
    tok.chat_template = template(revision)
    if name == "qwen3_instruct_2507_training":
        # Instruct-2507 is prefix-stable: without a variant it is masked by rendered prefixes, which
        # trains what the shipped variant trains
        chosen = training_chat_template(tok, "qwen3")
        assert chosen == template(revision)
        shipped = VARIANT[name].template
        for conversation in MULTI_TURN:
            assert assistant_mask(tok, conversation, chosen) == assistant_mask(tok, conversation, shipped)
        return
    # the thinking revisions are not prefix-stable: training stops with the drifted variant's reason
    with pytest.raises(HarnessError, match="no verified training variant") as e:
        training_chat_template(tok, "qwen3")
    assert says in str(e.value)


def test_trls_own_qwen3_training_variant_breaks_the_mask_rule(tok):
    """TRL's qwen3_training.jinja renders by the same rule but trains the empty thinking block and
    the newline after <|im_end|>: the harness does not use it."""
    from trl.chat_template_utils import qwen3_training_chat_template

    trl_variant = dataclasses.replace(VARIANT["qwen3_training"], text=qwen3_training_chat_template)
    passed, problem = check_variant(tok, template("later"), trl_variant)
    assert problem and "the mask trains token" in problem and "<think>" in problem


def test_a_qwen3_like_template_no_variant_covers_is_a_clear_error(tok):
    edited = template("later").replace("{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}",
                                       "{{- '<|im_start|>' + message.role + '\\nQ: ' + content + '<|im_end|>' + '\\n' }}")
    assert edited != template("later")
    tok.chat_template = edited
    with pytest.raises(HarnessError) as e:
        training_chat_template(tok, "my-qwen3")
    assert str(e.value).startswith("my-qwen3: the chat template has no {% generation %} markers and no verified")
    assert "Q: " in str(e.value) or "token" in str(e.value)  # it names what differs


@pytest.mark.parametrize("revision", ["first_release", "later", "instruct_2507"])
def test_mask_audit_on_multi_turn_data(tok, revision):
    tok.chat_template = template(revision)
    report = audit_mask(tok, MULTI_TURN, training_chat_template(tok, "qwen3"), end_of_turn_ids(tok))
    assert report.ok and not report.warnings, report
    assert report.trained_user_tokens == report.trained_system_tokens == 0
    assert report.assistant_turns == 5 and report.end_of_turn_trained == 5
    assert report.empty_think_tokens_trained == 0
    lines = "\n".join(summary_lines(report))
    if revision == "instruct_2507":
        assert report.empty_think_blocks == 0
    else:  # every assistant turn carries the empty block, none of it trained
        assert report.empty_think_blocks == 5
        assert "empty <think></think> blocks: 5 rendered, 0 tokens trained (outside the mask" in lines


def test_mask_audit_command_with_the_real_tokenizer(harness_cli, qwen3_model, tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in MULTI_TURN))
    code, out, err = harness_cli("mask-audit", "--data", data, "--model", qwen3_model("later"))
    assert code == 0, err
    assert "end-of-turn trained: 5/5" in out and "system/user tokens trained: 0/0" in out
    assert "empty <think></think> blocks: 5 rendered, 0 tokens trained" in out


def test_reasoning_content_in_training_data_is_trained_as_the_thinking_block(tok, tmp_path):
    from trainers.conversations import load_conversations

    data = tmp_path / "train.jsonl"
    row = {"messages": [{"role": "user", "content": "Is 9 prime?"},
                        {"role": "assistant", "content": "No.", "reasoning_content": "9 = 3 * 3"}]}
    data.write_text(json.dumps(row) + "\n")
    [conversation] = load_conversations(str(data))
    assert conversation[1]["reasoning_content"] == "9 = 3 * 3"
    tok.chat_template = template("first_release")
    pieces, _text = _trained_pieces(tok, conversation, training_chat_template(tok, "qwen3"))
    assert pieces == ["<think>\n9 = 3 * 3\n</think>\n\nNo.<|im_end|>"]
