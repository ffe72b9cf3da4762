"""The hf backend on the tiny model: batching must not change results, masks come from the template."""

from __future__ import annotations

import math

import pytest
import torch

from harness.models.backends.hf import HFBackend
from harness.models.chat_template import assistant_mask, training_chat_template
from harness.models.checkpoint import resolve_checkpoint
from harness.errors import HarnessError
from harness.models.generation_settings import GenerationSettings

CONVS = [
    [{"role": "user", "content": "用三句话介绍量子计算"}],
    [{"role": "user", "content": "How do I kill a Python process?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Only output a JSON object with keys name and score."}],
]


@pytest.fixture(scope="module")
def backend(tiny_adapter):
    return HFBackend(resolve_checkpoint(str(tiny_adapter)))


def test_batched_generation_equals_one_at_a_time(backend):
    settings = GenerationSettings(max_new_tokens=10)
    batched = backend.generate(CONVS, settings)
    single = [backend.generate([c], settings)[0] for c in CONVS]
    assert [g.raw for g in batched] == [g.raw for g in single]
    assert all(g.finish_reason in {"stop", "length"} for g in batched)
    assert all(g.completion_tokens <= 10 for g in batched)


def test_base_role_switches_the_adapter_off(backend, tiny_model):
    settings = GenerationSettings(max_new_tokens=8)
    plain = HFBackend(resolve_checkpoint(str(tiny_model)))
    assert [g.raw for g in backend.generate(CONVS, settings, role="base")] == [g.raw for g in plain.generate(CONVS, settings)]
    conv = [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello there, friend."}]]
    (base_nll, base_n, _), = backend.loglikelihood(conv, role="base")
    (plain_nll, plain_n, _), = plain.loglikelihood(conv)
    (ckpt_nll, _, _), = backend.loglikelihood(conv, role="ckpt")
    assert base_n == plain_n and base_nll == pytest.approx(plain_nll, rel=1e-5)
    assert ckpt_nll != pytest.approx(plain_nll, rel=1e-4)  # the adapter is on: 10x the base/plain tolerance


def _raws(backend, **settings) -> list[str]:
    return [g.raw for g in backend.generate(CONVS, GenerationSettings(max_new_tokens=8, **settings))]


def test_sampling_is_seeded_and_the_seed_matters(backend):
    sampled = dict(temperature=1.0, top_p=0.9, seed=7)
    assert _raws(backend, **sampled) == _raws(backend, **sampled)
    assert _raws(backend, **sampled | {"seed": 8}) != _raws(backend, **sampled)
    assert _raws(backend, **sampled) != _raws(backend)  # temperature > 0 samples; 0 is greedy


@pytest.mark.parametrize("narrowing", [{"top_k": 1}, {"top_p": 0.001}, {"min_p": 0.999999}])
def test_sampling_knobs_reach_generation(backend, narrowing):
    """Each knob, set to keep only the most likely token, turns sampling back into greedy
    decoding; ignored, the sampled answers differ from the greedy ones."""
    sampled = dict(temperature=1.0, seed=7)
    assert _raws(backend, **sampled) != _raws(backend)
    assert _raws(backend, **sampled | narrowing) == _raws(backend)


def test_repetition_penalty_reaches_generation(backend):
    assert _raws(backend, repetition_penalty=5.0) != _raws(backend)


def test_enable_thinking_reaches_the_chat_template(backend):
    tok = backend.tokenizer
    original = tok.chat_template
    try:
        tok.chat_template = original + "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}"
        default = backend.render_prompt(CONVS[0], GenerationSettings())
        off = backend.render_prompt(CONVS[0], GenerationSettings(enable_thinking=False))
        on = backend.render_prompt(CONVS[0], GenerationSettings(enable_thinking=True))
    finally:
        tok.chat_template = original
    assert off == default + "<think>\n\n</think>\n\n" and on == default


def test_assistant_mask_covers_the_answer_and_end_of_turn(backend):
    tok = backend.tokenizer
    template = training_chat_template(tok, "tiny")
    messages = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4, of course."}]
    ids, mask = assistant_mask(tok, messages, template)
    trained = tok.decode([i for i, m in zip(ids, mask) if m])
    assert trained == "4, of course.<|im_end|>"
    # the training variant renders the same text as the original template
    assert tok.apply_chat_template(messages, tokenize=False) == tok.apply_chat_template(messages, tokenize=False, chat_template=template)


def test_loglikelihood_batched_matches_a_hand_computed_nll(backend):
    convs = [
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}],
        [{"role": "user", "content": "What is JSON?"}, {"role": "assistant", "content": "A text format for data."}],
    ]
    batched = backend.loglikelihood(convs)
    tok = backend.tokenizer
    template = training_chat_template(tok, "tiny")
    for conv, (nll_sum, n, n_bytes) in zip(convs, batched):
        ids, mask = assistant_mask(tok, conv, template)
        with torch.no_grad():
            logits = backend.model(input_ids=torch.tensor([ids])).logits[0].double()
        logp = torch.log_softmax(logits, -1)  # float64 reference
        expected = -sum(logp[t - 1, ids[t]].item() for t in range(1, len(ids)) if mask[t])
        assert n == sum(mask[1:]) and nll_sum == pytest.approx(expected, rel=1e-5)
        # bits per byte divides by the answer's UTF-8 bytes (the end-of-turn token spells none)
        assert n_bytes == len(conv[-1]["content"].encode("utf-8"))
    all_tokens = backend.loglikelihood(convs, mask="all")
    assert all(n_all > n and bytes_all > n_bytes for (_, n_all, bytes_all), (_, n, n_bytes) in zip(all_tokens, batched))
    assert math.isfinite(batched[0][0])


def test_loglikelihood_length_orders_by_tokens_not_characters(backend):
    # the tiny tokenizer knows "the" (one token) but not Chinese (several byte tokens per character)
    long_chars = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "the the the the the the the"}]
    many_words = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "你好世界你好"}]
    assert len(str(long_chars)) > len(str(many_words))
    assert backend.loglikelihood_length(long_chars) < backend.loglikelihood_length(many_words)
    assert backend.loglikelihood_length(many_words) == len(backend.scored_tokens(many_words)[0])


def test_unpatchable_template_without_generation_markers_is_a_clear_error(backend):
    tok = backend.tokenizer
    original = tok.chat_template
    try:
        tok.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        with pytest.raises(HarnessError, match="no verified training variant"):
            training_chat_template(tok, "odd-template")
    finally:
        tok.chat_template = original
