"""Bootstrap CIs and metric aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.metrics import metric_units, summarize_delta, summarize_metric
from harness.stats import bootstrap_ci, paired_bootstrap_delta
from harness.records import MetricDef, SampleRecord, ScoreEntry


def test_bootstrap_ci_brackets_the_rate_and_is_seeded():
    values = np.array([1.0] * 30 + [0.0] * 70)
    lo, hi = bootstrap_ci(values)
    assert lo < 0.3 < hi and 0.18 < lo and hi < 0.42
    assert bootstrap_ci(values) == (lo, hi)


def test_ratio_ci_for_perplexity_resamples_samples():
    nll = np.array([10.0, 20.0, 30.0])
    tok = np.array([10.0, 10.0, 10.0])
    lo, hi = bootstrap_ci(nll, tok, transform=np.exp)
    assert math.exp(1.0) <= lo <= math.exp(2.0) <= hi <= math.exp(3.0)


def test_paired_delta_detects_a_consistent_improvement():
    a = np.array([0.0] * 40 + [1.0] * 10)
    b = np.array([1.0] * 40 + [1.0] * 10)
    ones = np.ones(50)
    delta, lo, hi = paired_bootstrap_delta(a, ones, b, ones)
    assert delta == 0.8 and lo > 0.6


def test_paired_delta_uses_the_pairing():
    """B fixes 5 of A's 25 failures and breaks none: paired, that is a clear improvement (the CI
    excludes 0); resampled as two independent groups, the spread between samples (half pass,
    half fail) hides it (lo ~ -0.1)."""
    a = np.array([1.0, 0.0] * 25)
    b = a.copy()
    b[[1, 11, 21, 31, 41]] = 1.0
    ones = np.ones(50)
    delta, lo, hi = paired_bootstrap_delta(a, ones, b, ones)
    assert delta == pytest.approx(0.1) and 0.0 < lo < 0.1 < hi <= 0.2 + 1e-9


def _rec(role, sid, value, **sample):
    record = SampleRecord(role, "m", "t", sid, "p", sample)
    record.scores = {"s": ScoreEntry(value)}
    return record


def test_metric_counts_unscored_apart_and_filters_by_where():
    records = [_rec("ckpt", "1", 1.0, expect="refuse"), _rec("ckpt", "2", None, expect="refuse"), _rec("ckpt", "3", 0.0, expect="comply")]
    units = metric_units(records, MetricDef("t/refusal_rate", "t", "s", {"expect": "refuse"}), "ckpt")
    summary = summarize_metric(units)
    assert summary["value"] == 1.0 and summary["n"] == 1 and summary["unscored"] == 1


def test_metric_with_no_data_is_none_not_zero():
    units = metric_units([_rec("ckpt", "1", None)], MetricDef("t/m", "t", "s"), "ckpt")
    summary = summarize_metric(units)
    assert summary == {"value": None, "n": 0, "ci": None, "unscored": 1}


def test_delta_is_paired_on_shared_samples_only():
    records = [_rec("base", "1", 0.0), _rec("base", "2", 0.0), _rec("ckpt", "1", 1.0), _rec("ckpt", "3", 1.0)]
    spec = MetricDef("t/m", "t", "s")
    delta = summarize_delta(metric_units(records, spec, "base"), metric_units(records, spec, "ckpt"))
    assert delta["n"] == 1 and delta["value"] == 1.0


def test_ten_thousand_samples_by_a_thousand_resamples_is_right():
    """(Its speed is measured by bench/bootstrap.py against a plain loop, not asserted here.)"""
    values = (np.random.default_rng(3).random(10_000) < 0.3).astype(float)
    lo, hi = bootstrap_ci(values, n_resamples=1000)
    p = values.mean()
    half_width = 1.96 * math.sqrt(p * (1 - p) / len(values))  # the normal approximation
    assert abs((hi - lo) / 2 - half_width) < 0.1 * half_width
    assert lo < p < hi


def test_chunking_the_resamples_does_not_change_the_draws(monkeypatch):
    import harness.stats as stats

    num, den = np.arange(50, dtype=float), np.arange(1, 51, dtype=float)
    idx = np.random.default_rng(5).integers(0, 50, size=(40, 50))  # one unchunked draw
    expected = [num[idx].sum(axis=1), den[idx].sum(axis=1)]
    monkeypatch.setattr(stats, "CHUNK_INDICES", 120)  # 2 resamples per chunk: 20 chunks
    for got, want in zip(stats.resampled_sums([num, den], 40, seed=5), expected):
        assert np.array_equal(got, want)


def test_identical_paired_samples_have_a_zero_delta():
    nll = np.array([3.0, 5.0, 8.0])
    tokens = np.array([2.0, 3.0, 4.0])
    assert paired_bootstrap_delta(nll, tokens, nll, tokens, transform=np.exp) == (0.0, 0.0, 0.0)


def test_wilson_interval_matches_the_textbook_values():
    from harness.stats import wilson_ci

    lo, hi = wilson_ci(3, 10)  # Wilson (1927) / Newcombe (1998) table: 3/10 -> 0.1078, 0.6032
    assert round(lo, 4) == 0.1078 and round(hi, 4) == 0.6032
    lo, hi = wilson_ci(10, 10)  # all pass: the lower bound is n / (n + z^2), not 1
    assert round(lo, 4) == 0.7225 and hi == 1.0
    assert wilson_ci(0, 10)[0] == 0.0 and 0.27 < wilson_ci(0, 10)[1] < 0.28


def test_a_rate_where_every_sample_passes_keeps_an_honest_interval():
    """Ten passes out of ten: the bootstrap collapses to [1.0, 1.0]; the reported CI must not."""
    records = [_rec("ckpt", str(i), 1.0) for i in range(10)]
    summary = summarize_metric(metric_units(records, MetricDef("t/rate", "t", "s"), "ckpt"))
    assert summary["value"] == 1.0 and summary["ci_method"] == "wilson"
    lo, hi = summary["ci"]
    assert 0.7 < lo < 0.75 and hi == 1.0


def test_graded_scores_and_perplexity_keep_the_bootstrap():
    graded = [_rec("ckpt", str(i), float(v)) for i, v in enumerate([7, 8, 8, 9, 6, 7])]  # a 1-10 rubric
    summary = summarize_metric(metric_units(graded, MetricDef("t/rubric", "t", "s"), "ckpt"))
    assert summary["ci_method"] == "bootstrap" and summary["ci"][0] < 7.5 < summary["ci"][1]
    ppl = [SampleRecord("ckpt", "m", "t", str(i), None, {}, scores={"perplexity": ScoreEntry(float(i + 1), weight=1)})
           for i in range(2)]
    summary = summarize_metric(metric_units(ppl, MetricDef("t/perplexity", "t", "perplexity", aggregate="perplexity"), "ckpt"))
    assert summary["ci_method"] == "bootstrap" and summary["ci"][0] >= math.exp(1.0) - 1e-9
