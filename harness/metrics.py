"""From per-sample records to metrics: value, n, 95% CI, unscored count; and base-vs-ckpt deltas.

A metric with no scored sample has value None ("no data"), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.stats import bootstrap_ci, is_pass_fail, paired_bootstrap_delta, ratio_stat, wilson_ci
from harness.suite import MetricSpec, Suite


@dataclass
class Units:
    """The per-sample numerator/denominator pairs a metric is the ratio of, keyed by sample."""

    keys: list[str]
    num: np.ndarray
    den: np.ndarray
    unscored: int
    perplexity: bool

    def transform(self, x):
        return np.exp(x) if self.perplexity else x


def metric_units(records: list[dict], metric: MetricSpec, role: str) -> Units:
    keys, num, den, unscored = [], [], [], 0
    for r in records:
        if r["role"] != role or not metric.selects(r.get("sample", {})):
            continue
        key = f"{r['task']}/{r['id']}"
        if metric.scorer == "perplexity":
            if r.get("nll_sum") is not None and r["n_tokens"] > 0:
                keys.append(key), num.append(r["nll_sum"]), den.append(r["n_tokens"])
            elif "nll_sum" in r and r["nll_sum"] is None:
                unscored += 1  # the backend has no loglikelihoods (an API endpoint)
            continue
        score = r.get("scores", {}).get(metric.scorer)
        if score is None:
            continue  # the scorer does not apply to this sample
        if score["value"] is None:
            unscored += 1
            continue
        keys.append(key), num.append(score["value"]), den.append(1.0)
    return Units(keys, np.array(num, float), np.array(den, float), unscored, metric.scorer == "perplexity")


def summarize_metric(units: Units, seed: int = 0) -> dict:
    out = {"value": None, "n": len(units.keys), "ci": None, "unscored": units.unscored}
    if units.keys:
        out["value"] = ratio_stat(units.num, units.den, units.transform)
        out["ci"], out["ci_method"] = interval(units, seed)
    return out


def interval(units: Units, seed: int = 0) -> tuple[list[float], str]:
    """Wilson for a rate of pass/fail samples; the bootstrap for means of graded scores and perplexity."""
    if not units.perplexity and is_pass_fail(units.num, units.den):
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


def all_metrics(suite: Suite) -> list[tuple[str, MetricSpec, str | None]]:
    """(full name, spec, task or None if pooled) for every metric, e.g. 'format/json_validity_strict'."""
    out = []
    for task in suite.tasks.values():
        for m in task.metrics:
            out.append((f"{task.name}/{m.name}", m, task.name))
    for group, m in suite.pooled:
        out.append((f"{group}/{m.name}", m, None))
    return out


def scoped_units(records: list[dict], spec: MetricSpec, task_name: str | None, role: str) -> Units:
    """Units of a task's metric (task_name None: a pooled metric, over every task's records)."""
    scoped = [r for r in records if task_name is None or r["task"] == task_name]
    return metric_units(scoped, spec, role)


def summarize(suite: Suite, records: list[dict], roles: list[str]) -> dict:
    metrics = {}
    for full_name, spec, task_name in all_metrics(suite):
        units = {role: scoped_units(records, spec, task_name, role) for role in roles}
        entry = {"higher_is_better": spec.higher_is_better}
        has = [role for role in roles if spec.roles is None or role in spec.roles]
        for role in has:
            entry[role] = summarize_metric(units[role])
        if "base" in has and "ckpt" in has:
            entry["delta"] = summarize_delta(units["base"], units["ckpt"])
        metrics[full_name] = entry
    return metrics
