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
from harness.stats import bootstrap_ci, is_pass_fail, paired_bootstrap_delta, ratio_stat, wilson_ci


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
    """Paired delta b - a over the samples both scored."""
    shared = sorted(set(a.keys) & set(b.keys))
    if not shared:
        return {"value": None, "n": 0, "ci": None, "significant": None}
    ia = {k: i for i, k in enumerate(a.keys)}
    ib = {k: i for i, k in enumerate(b.keys)}
    sa = [ia[k] for k in shared]
    sb = [ib[k] for k in shared]
    delta, lo, hi = paired_bootstrap_delta(
        a.num[sa], a.den[sa], b.num[sb], b.den[sb], transform=a.transform, seed=seed
    )
    return {"value": delta, "n": len(shared), "ci": [lo, hi], "significant": bool(lo > 0 or hi < 0)}


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
