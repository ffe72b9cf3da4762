"""From scored records to metrics: value, n, 95% CI, unscored count; and base-vs-ckpt deltas.

A metric is a MetricDef (harness.records): which score it reads, which samples (`where`, task or
pooled), which roles, and how values aggregate: "mean" (a rate or mean score), "perplexity"
(exp of summed values over summed weights: NLL over tokens) or "ratio" (summed values over summed
weights). A metric with no scored sample has value None ("no data"), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.records import MetricDef, SampleRecord
from harness.stats import (
    MIN_BOOTSTRAP_PAIRS, SIGNIFICANCE_LEVEL, bootstrap_ci, is_pass_fail, paired_bootstrap_delta, ratio_stat,
    sign_test_p, wilson_ci,
)


@dataclass
class Units:
    """The per-sample numerator/denominator pairs a metric is the ratio of, keyed by sample."""

    keys: list[str]
    num: np.ndarray
    den: np.ndarray
    unscored: int
    aggregate: str

    def transform(self, x):
        return np.exp(x) if self.aggregate == "perplexity" else x


def metric_units(records: list[SampleRecord], metric: MetricDef, role: str) -> Units:
    keys, num, den, unscored = [], [], [], 0
    for r in records:
        if r.role != role or (metric.task is not None and r.task != metric.task) or not metric.selects(r.sample or {}):
            continue
        score = r.scores.get(metric.score)
        if score is None:
            continue  # the scorer does not apply to this sample
        if score.value is None:
            unscored += 1
            continue
        weight = 1.0 if metric.aggregate == "mean" else score.weight
        if not weight:
            unscored += 1  # a ratio without its denominator cannot be counted
            continue
        keys.append(f"{r.task}/{r.id}"), num.append(score.value), den.append(weight)
    return Units(keys, np.array(num, float), np.array(den, float), unscored, metric.aggregate)


def summarize_metric(units: Units, seed: int = 0) -> dict:
    out = {"value": None, "n": len(units.keys), "ci": None, "unscored": units.unscored}
    if units.keys:
        out["value"] = ratio_stat(units.num, units.den, units.transform)
        out["ci"], out["ci_method"] = interval(units, seed)
    return out


def interval(units: Units, seed: int = 0) -> tuple[list[float], str]:
    """Wilson for a rate of pass/fail samples; the bootstrap for means of graded scores and perplexity."""
    if units.aggregate == "mean" and is_pass_fail(units.num, units.den):
        return list(wilson_ci(float(units.num.sum()), len(units.num))), "wilson"
    return list(bootstrap_ci(units.num, units.den, transform=units.transform, seed=seed)), "bootstrap"


def summarize_delta(a: Units, b: Units, seed: int = 0) -> dict:
    """Paired delta b - a over the samples both scored, and whether it is significant.

    {value, n, ci, significant, test, p_value, flips, paired_values, note}: `paired_values` are
    [a, b] over the same shared samples the delta is of (they differ from each side's own value
    when a sample was scored on one side only). Significance, at the 5% level:
    - pass/fail metrics: the exact sign test (exact McNemar) on the samples that flipped
      (`flips`: {"up": 0 -> 1, "down": 1 -> 0}); one flip, or any number fewer than six, is
      never significant. The bootstrap CI is still shown.
    - graded metrics (means of scores, perplexity, ratios): the paired bootstrap CI excludes 0,
      from MIN_BOOTSTRAP_PAIRS pairs up; fewer pairs: not significant, note "too few pairs".
    A degenerate (zero-width) interval is never significant.
    """
    shared = sorted(set(a.keys) & set(b.keys))
    out = {"value": None, "n": len(shared), "ci": None, "significant": None, "test": None, "p_value": None,
           "flips": None, "paired_values": None, "note": None}
    if not shared:
        out["note"] = "no data (no sample scored in both)"
        return out
    ia = {k: i for i, k in enumerate(a.keys)}
    ib = {k: i for i, k in enumerate(b.keys)}
    sa = [ia[k] for k in shared]
    sb = [ib[k] for k in shared]
    na, da, nb, db = a.num[sa], a.den[sa], b.num[sb], b.den[sb]
    delta, lo, hi = paired_bootstrap_delta(na, da, nb, db, transform=a.transform, seed=seed)
    out.update(value=delta, ci=[lo, hi],
               paired_values=[ratio_stat(na, da, a.transform), ratio_stat(nb, db, b.transform)])
    if a.aggregate == "mean" and is_pass_fail(np.concatenate([na, nb]), np.concatenate([da, db])):
        up, down = int(((na == 0) & (nb == 1)).sum()), int(((na == 1) & (nb == 0)).sum())
        p = sign_test_p(down, up)
        out.update(test="exact sign test", p_value=p, flips={"up": up, "down": down},
                   significant=bool(p < SIGNIFICANCE_LEVEL and up != down))
        return out
    out["test"] = "paired bootstrap"
    if len(shared) < MIN_BOOTSTRAP_PAIRS:
        out.update(significant=False, note=f"too few pairs ({len(shared)} < {MIN_BOOTSTRAP_PAIRS})")
        return out
    degenerate = bool(np.isclose(lo, hi, rtol=1e-9, atol=1e-12))  # float residue of a zero-width interval
    out["significant"] = bool(not degenerate and (lo > 0 or hi < 0))
    return out


def summarize(definitions: list[MetricDef], records: list[SampleRecord], roles: list[str]) -> dict:
    metrics = {}
    for metric in definitions:
        units = {role: metric_units(records, metric, role) for role in roles}
        entry = {"higher_is_better": metric.higher_is_better}
        has = [role for role in roles if metric.roles is None or role in metric.roles]
        for role in has:
            entry[role] = summarize_metric(units[role])
        if "base" in has and "ckpt" in has:
            entry["delta"] = summarize_delta(units["base"], units["ckpt"])
        metrics[metric.name] = entry
    return metrics
