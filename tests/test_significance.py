"""Significance that holds at small n: the exact sign test for pass/fail deltas, a minimum number of
pairs for the bootstrap of graded ones, Wilson intervals for agreement, "no data" at n = 0; the same
rule in the metric table, `harness compare`, `harness gate` and the lab report's findings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.lab.findings import _values
from harness.metrics import Units, summarize_delta
from harness.results.gate import _drop_check
from harness.results.policy import Rule
from harness.stats import MIN_BOOTSTRAP_PAIRS, bootstrap_ci, paired_bootstrap_delta, sign_test_p
from judges.agreement import agreement_stats
from reports.cells import delta_cell
from test_compare import F03_OK, scored_run
from test_policy import gate


def units(values, aggregate="mean", prefix="s"):
    values = np.array(values, float)
    return Units([f"t/{prefix}{i}" for i in range(len(values))], values, np.ones_like(values), 0, aggregate)


@pytest.mark.parametrize("worse, better, p", [
    (0, 0, 1.0), (1, 0, 1.0), (0, 1, 1.0), (2, 0, 0.5), (1, 1, 1.0), (5, 0, 0.0625), (6, 0, 0.03125),
    (3, 3, 1.0), (10, 0, 2 / 1024), (8, 2, 2 * (1 + 10 + 45) / 1024),
])
def test_sign_test_matches_the_binomial_tail(worse, better, p):
    assert sign_test_p(worse, better) == pytest.approx(p)


def test_no_pair_is_no_data_not_nan():
    d = summarize_delta(units([]), units([]))
    assert d["value"] is None and d["ci"] is None and d["significant"] is None and d["n"] == 0
    assert "no data" in d["note"]
    with pytest.raises(ValueError, match="no data"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="no data"):
        paired_bootstrap_delta([], [], [], [])


def test_one_sample_going_from_pass_to_fail_is_not_significant():
    d = summarize_delta(units([1.0]), units([0.0]))
    assert d["value"] == -1.0 and d["ci"] == [-1.0, -1.0]  # the degenerate bootstrap is still shown ...
    assert d["test"] == "exact sign test" and d["p_value"] == 1.0 and d["flips"] == {"up": 0, "down": 1}
    assert d["significant"] is False  # ... but does not decide
    assert delta_cell(d, higher_is_better=True) == ("-1.000 [-1.000, -1.000] p=1", "")


def test_two_samples_both_failing_are_not_significant():
    d = summarize_delta(units([1.0, 1.0]), units([0.0, 0.0]))
    assert d["p_value"] == 0.5 and d["significant"] is False


def test_ten_of_ten_from_0_to_100_percent_is_significant():
    d = summarize_delta(units([0.0] * 10), units([1.0] * 10))
    assert d["value"] == 1.0 and d["p_value"] == pytest.approx(2 / 1024) and d["significant"] is True
    assert delta_cell(d, higher_is_better=True)[1] == "better"
    assert delta_cell(d, higher_is_better=False)[1] == "worse"


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_unchanged_at_0_or_100_percent_is_a_zero_delta_not_significant(value):
    d = summarize_delta(units([value] * 10), units([value] * 10))
    assert d["value"] == 0.0 and d["p_value"] == 1.0 and d["significant"] is False
    assert not any(isinstance(x, float) and math.isnan(x) for x in [d["value"], *d["ci"], *d["paired_values"]])


def test_flips_both_ways_cancel():
    d = summarize_delta(units([1.0] * 5 + [0.0] * 5), units([0.0] * 5 + [1.0] * 5))
    assert d["value"] == 0.0 and d["flips"] == {"up": 5, "down": 5} and d["significant"] is False


def test_graded_metrics_need_enough_pairs():
    few = summarize_delta(units([5.0, 6.0, 7.0]), units([8.0, 9.5, 9.0]))
    assert few["test"] == "paired bootstrap" and few["ci"][0] > 0  # the CI excludes 0 ...
    assert few["significant"] is False and few["note"] == f"too few pairs (3 < {MIN_BOOTSTRAP_PAIRS})"  # ... 3 pairs do not decide
    rng = np.random.default_rng(1)
    a = rng.uniform(3, 6, 12)
    enough = summarize_delta(units(a), units(a + rng.uniform(1, 3, 12)))
    assert enough["significant"] is True and enough["note"] is None


def test_a_degenerate_interval_is_never_significant():
    a = np.arange(12, dtype=float)
    d = summarize_delta(units(a), units(a + 2.0))  # every pair moves by exactly 2: every resample says +2
    assert d["ci"] == [pytest.approx(2.0), pytest.approx(2.0)] and d["significant"] is False


def test_values_and_delta_come_from_the_same_samples():
    """The demo's bug: over-refusal 0.042 -> 0.000 next to a delta of +0.000 on 23 pairs."""
    base = units([1.0] + [0.0] * 23)  # 1/24 = 0.042; the refused sample is s0
    ckpt = Units([f"t/s{i}" for i in range(1, 24)], np.zeros(23), np.ones(23), 1, "mean")  # s0 unscored
    d = summarize_delta(base, ckpt)
    assert d["n"] == 23 and d["value"] == 0.0 and d["paired_values"] == [0.0, 0.0]
    text, _ = delta_cell(d, False, ({"value": 1 / 24, "n": 24}, {"value": 0.0, "n": 23}))
    assert "(on the 23 paired samples: 0.000 -> 0.000)" in text
    entry = {"higher_is_better": False, "base": {"value": 1 / 24, "n": 24}, "ckpt": {"value": 0.0, "n": 23}, "delta": d}
    assert _values(entry) == "0.000 -> 0.000 on the 23 samples both scored (all scored: 0.042 n=24 -> 0.000 n=23)"
    entry["ckpt"]["n"] = entry["base"]["n"] = 23  # the same samples on both sides: the values as they are
    assert _values(entry) == "0.042 -> 0.000"


def test_the_gate_check_uses_the_same_rule():
    one_flip = summarize_delta(units([1.0]), units([0.0]))
    check = _drop_check(Rule("t/m", 1, max_drop=0.1), True, one_flip)
    assert check.passed and "but not significant" in check.text and "sign test p=1 (1 down, 0 up)" in check.text
    many = summarize_delta(units([1.0] * 10), units([0.0] * 10))
    check = _drop_check(Rule("t/m", 1, max_drop=0.1), True, many)
    assert not check.passed and ", significant (" in check.text
    improved = summarize_delta(units([0.0] * 10), units([1.0] * 10))  # significant, but the good way
    assert _drop_check(Rule("t/m", 1, max_drop=0.0), True, improved).passed
    few = summarize_delta(units([9.0, 8.0, 9.0], "ratio"), units([5.0, 4.0, 6.0], "ratio"))
    check = _drop_check(Rule("t/m", 1, max_drop=1.0), True, few)
    assert check.passed and "too few pairs (3 < 10)" in check.text


def test_one_flip_is_not_significant_in_compare_and_gate(harness_cli, tmp_path):
    a = scored_run(harness_cli, tmp_path / "a", {"f03": F03_OK})
    b = scored_run(harness_cli, tmp_path / "b", {"f03": "Sure! Alice got 93."})
    code, out, err = harness_cli("compare", a, b)
    assert code == 0, err
    strict = next(line for line in out.splitlines() if line.startswith("│ format/json_validity_strict"))
    assert "-1.000 [-1.000, -1.000] p=1" in strict and "│ no" in strict, out
    baseline = tmp_path / "baseline.json"
    assert harness_cli("baseline", "save", a, "--out", baseline)[0] == 0
    code, out, _ = gate(harness_cli, tmp_path, b, "metrics:\n  format/json_validity_strict: {max_drop: 0.1}\n", "--baseline", baseline)
    assert code == 0 and "drop 1 > max_drop 0.1 but not significant" in out and "sign test p=1" in out


@pytest.mark.parametrize("agree, n, lo_range", [(19, 19, (0.82, 0.84)), (9, 9, (0.70, 0.71)), (1, 1, (0.20, 0.21)),
                                                (0, 2, (0.0, 0.0)), (5, 10, (0.23, 0.24))])
def test_label_agreement_uses_wilson(agree, n, lo_range):
    a = ["x"] * n
    b = ["x"] * agree + ["y"] * (n - agree)
    stats = agreement_stats(a, b)
    lo, hi = stats["agreement_ci"]
    assert lo_range[0] <= lo <= lo_range[1]
    assert lo <= stats["agreement"] <= hi and lo < hi  # never a point, not even at 0% or 100%


def test_label_agreement_with_no_item_is_no_data():
    assert agreement_stats([], []) == {"n": 0, "agreement": None, "agreement_ci": None, "kappa": None, "kappa_ci": None}
