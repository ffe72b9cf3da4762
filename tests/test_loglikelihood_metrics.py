"""Perplexity and bits per byte from loglikelihood records; loglikelihood batches in token order."""

from __future__ import annotations

import math

import pytest

from harness.metrics import summarize
from harness.records import SampleRecord
from harness.generate import pending_work
from harness.scoring import score_one
from harness.suite import load_suite


def scored(suite, rows):
    task = suite.tasks["ppl"]
    records = [SampleRecord("ckpt", "m", "ppl", i, None, {}, **row) for i, row in rows]
    for r in records:
        for spec in task.scorers:
            r.scores.update(score_one(spec, r).scores)
    return records


def test_bits_per_byte_and_perplexity_are_ratios_of_sums():
    suite = load_suite("lab1", tasks=["ppl"])
    assert [m.short for m in suite.tasks["ppl"].metrics] == ["perplexity", "bits_per_byte"]
    records = scored(suite, [("v01", {"nll_sum": 10.0, "n_tokens": 5, "n_bytes": 20}),
                             ("v02", {"nll_sum": 30.0, "n_tokens": 15, "n_bytes": 40})])
    metrics = summarize(suite.metric_definitions(), records, ["ckpt"])
    assert metrics["ppl/perplexity"]["ckpt"]["value"] == pytest.approx(math.exp(40 / 20))
    assert metrics["ppl/bits_per_byte"]["ckpt"]["value"] == pytest.approx(40 / 60 / math.log(2))
    assert metrics["ppl/bits_per_byte"]["higher_is_better"] is False


def test_records_without_byte_counts_give_no_bits_per_byte_but_keep_perplexity():
    suite = load_suite("lab1", tasks=["ppl"])
    metrics = summarize(suite.metric_definitions(), scored(suite, [("v01", {"nll_sum": 10.0, "n_tokens": 5})]), ["ckpt"])
    assert metrics["ppl/perplexity"]["ckpt"]["n"] == 1
    assert metrics["ppl/bits_per_byte"]["ckpt"] == {"value": None, "n": 0, "ci": None, "unscored": 1}


def test_loglikelihood_batches_follow_token_length_and_generate_batches_do_not():
    suite = load_suite("lab1", tasks=["ppl", "format"])
    samples = suite.tasks["ppl"].samples
    tokens = {s["id"]: (len(samples) - k) * 10 for k, s in enumerate(samples)}  # any order unlike characters
    by_id = {id(s["messages"]): s["id"] for s in samples}
    seen_masks = set()

    def length(messages, mask):
        seen_masks.add(mask)
        return tokens[by_id[id(messages)]]

    plain = pending_work(suite, ["ckpt"], [], 8)
    hooked = pending_work(suite, ["ckpt"], [], 8, loglikelihood_length=length)
    ppl_order = [s["id"] for b in hooked if b.task.name == "ppl" for s in b.samples]
    assert ppl_order == sorted(tokens, key=tokens.get)
    assert ppl_order != [s["id"] for b in plain if b.task.name == "ppl" for s in b.samples]
    assert seen_masks == {"assistant"}
    generate = [[s["id"] for s in b.samples] for b in hooked if b.task.name == "format"]
    assert generate == [[s["id"] for s in b.samples] for b in plain if b.task.name == "format"]
