"""The mask audit catches templates that train user tokens or never train the end-of-turn token."""

from __future__ import annotations

import json

import pytest

from harness.models.backends.hf import end_of_turn_ids, load_tokenizer
from harness.errors import HarnessError
from harness.models.chat_template import assistant_mask, training_chat_template
from harness.models.checkpoint import resolve_checkpoint
from harness.models.mask_audit import audit_mask, render_example

CONVS = [
    [{"role": "user", "content": "Give me JSON."}, {"role": "assistant", "content": "{\"a\": 1}"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
     {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye."}],
]

# Generation markers around the whole turn, user turns included: trains user text.
TRAINS_USER = (
    "{% for message in messages %}{% generation %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endgeneration %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Markers around the assistant content only: <|im_end|> is never trained.
NO_END_OF_TURN = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}"
    "{% generation %}{{ message['content'] }}{% endgeneration %}{{ '<|im_end|>\n' }}"
    "{% else %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tok(tiny_model):
    return load_tokenizer(resolve_checkpoint(str(tiny_model)))


def test_good_template_trains_only_assistant_tokens_and_end_of_turn(tok):
    template = training_chat_template(tok, "tiny")
    report = audit_mask(tok, CONVS, template, end_of_turn_ids(tok))
    assert report.ok and not report.warnings
    assert report.trained_user_tokens == report.trained_system_tokens == 0
    assert report.assistant_turns == 3 and report.end_of_turn_trained == 3
    assert 0 < report.trained_tokens < report.trained_tokens + report.ignored_tokens
    text = render_example(tok, CONVS[0], template)
    assert "Give me JSON." in text.plain and any("green" in str(span.style) for span in text.spans)


def test_template_that_trains_user_tokens_is_a_problem(tok):
    report = audit_mask(tok, CONVS, TRAINS_USER, end_of_turn_ids(tok))
    assert not report.ok and report.trained_user_tokens > 0 and report.trained_system_tokens > 0
    assert "user" in report.problems[0]


def test_template_that_does_not_train_end_of_turn_is_flagged(tok):
    report = audit_mask(tok, CONVS, NO_END_OF_TURN, end_of_turn_ids(tok))
    assert report.ok  # it trains the right text, but...
    assert report.end_of_turn_trained == 0 and "not learn to stop" in report.warnings[0]


def test_empty_think_blocks_are_counted(tok):
    convs = [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "<think>\n\n</think>\n\nHello!"}]]
    report = audit_mask(tok, convs, training_chat_template(tok, "tiny"), end_of_turn_ids(tok))
    assert report.empty_think_tokens_trained > 0 and "think" in report.warnings[0]


def test_mask_audit_command(harness_cli, tiny_model, tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVS))
    code, out, err = harness_cli("mask-audit", "--data", data, "--model", tiny_model)
    assert code == 0, err
    assert "end-of-turn trained: 3/3" in out and "system/user tokens trained: 0/0" in out


# No markers, not ChatML, unknown to TRL; each turn renders the same whatever follows: the general method.
PREFIX_STABLE = (
    "{% for message in messages %}{{ '[' + message['role'] + ']:\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '[assistant]:\n' }}{% endif %}"
)
# The last turn ends differently from the others: masking by prefixes would be wrong.
NOT_PREFIX_STABLE = PREFIX_STABLE.replace("'<|im_end|>'", "('<|endoftext|>' if loop.last else '<|im_end|>')")


@pytest.fixture
def with_template(tok):
    own = tok.chat_template

    def use(template):
        tok.chat_template = template
        return tok

    yield use
    tok.chat_template = own


def test_a_prefix_stable_template_without_markers_is_masked_by_rendered_prefixes(with_template):
    tok = with_template(PREFIX_STABLE)
    template = training_chat_template(tok, "tiny")
    assert template == PREFIX_STABLE  # no variant: assistant_mask masks it by prefixes
    report = audit_mask(tok, CONVS, template, end_of_turn_ids(tok))
    assert report.ok and not report.warnings
    assert report.trained_user_tokens == report.trained_system_tokens == 0
    assert report.assistant_turns == 3 and report.end_of_turn_trained == 3
    ids, mask = assistant_mask(tok, CONVS[1], template)
    trained = tok.decode([i for i, m in zip(ids, mask) if m])
    assert trained == "Hello!<|im_end|>Goodbye.<|im_end|>"


def test_a_template_that_is_not_prefix_stable_is_refused(with_template):
    tok = with_template(NOT_PREFIX_STABLE)
    with pytest.raises(HarnessError, match="masking by rendered prefixes: probe '.*': turn \\d renders differently"):
        training_chat_template(tok, "tiny")


def test_training_with_a_template_masked_by_prefixes(harness_cli, tmp_path):
    from conftest import build_tiny_model
    from test_train import write_config

    model = build_tiny_model(tmp_path / "model", PREFIX_STABLE)
    code, out, err = harness_cli("train", "--config", write_config(tmp_path, model, max_steps=1, quantization="none"),
                                 "--rescore", "none")
    assert code == 0, err
    audit = json.loads((tmp_path / "out" / "mask_audit.json").read_text())
    assert audit["ok"] and audit["end_of_turn_trained"] == audit["assistant_turns"] == 9  # 12 rows, 3 to validation
    assert (tmp_path / "out" / "final" / "adapter_model.safetensors").is_file()
