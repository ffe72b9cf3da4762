"""A sweep directory's results as data: per variant its loss curves, trainable parameters and
tokens/s, the ranking metric with its 95% CI, and paired deltas against the first variant.

The ranking metric is read from each variant's final run (the full suite on its final adapter):

    val_loss   mean NLL per assistant token on the suite's held-out validation conversations (the
               perplexity task's records, aggregated as a ratio instead of exp(ratio): ln of the
               perplexity), with a bootstrap CI and paired deltas. The default.
    eval_loss  the trainer's last evaluation loss on its validation split (one number, no CI)
    TASK/NAME  any metric of the final run, e.g. format/json_validity_strict

Deltas are variant - first variant over the samples both scored (harness.metrics), so "which
differences are significant" has the same meaning as in `harness compare`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.results.compare import compare
from harness.errors import HarnessError
from harness.metrics import summarize_delta, summarize_metric
from harness.records import MetricDef
from harness.results.snapshot import Snapshot, from_run_dir
from harness.lab.sweep_plan import SweepPlan, read_plan
from harness.lab.training_dir import TrainingDir, loss_points

VAL_LOSS, EVAL_LOSS = "val_loss", "eval_loss"
METRIC_HELP = "val_loss (default), eval_loss, or a metric of the final run such as format/json_validity_strict"


@dataclass
class VariantResult:
    name: str
    overrides: dict[str, str]
    stage: int | None
    status: str  # planned | running | smoke-failed | done
    note: str = ""
    path: str = ""
    config: dict | None = None  # its train_config.yaml
    stats: dict = field(default_factory=dict)  # trainable_parameters, total_parameters, tokens_per_second, ...
    train: list = field(default_factory=list)  # (step, loss)
    smoothed: list = field(default_factory=list)
    evals: list = field(default_factory=list)
    diagnosis: dict | None = None
    run_dir: str | None = None  # the final run
    snapshot: Snapshot | None = None
    metric: dict | None = None  # the ranking metric: {value, ci, n} (ci None for eval_loss)
    delta: dict | None = None  # ranking metric vs the first variant: {value, ci, n, significant}
    metrics: dict = field(default_factory=dict)  # final-run metric -> {value, ci, n, unscored, delta}
    not_comparable: str | None = None  # why no paired deltas against the first variant

    @property
    def finished(self) -> bool:
        return self.status == "done"


@dataclass
class SweepResults:
    path: str
    plan: SweepPlan
    metric: str
    higher_is_better: bool
    variants: list[VariantResult]

    @property
    def reference(self) -> VariantResult | None:
        """The first finished variant with a final run: what every delta is measured against."""
        return next((v for v in self.variants if v.finished and v.snapshot is not None), None)

    def ranked(self) -> list[VariantResult]:
        scored = [v for v in self.variants if v.metric and v.metric.get("value") is not None]
        scored.sort(key=lambda v: v.metric["value"], reverse=self.higher_is_better)
        return scored + [v for v in self.variants if v not in scored]

    def changed_keys(self) -> list[str]:
        """The config keys the variants differ in (from the plan's overrides)."""
        keys: list[str] = []
        for v in self.variants:
            keys += [k for k in v.overrides if k not in keys]
        return keys


def metric_definition(snapshot: Snapshot, metric: str) -> MetricDef | None:
    """The MetricDef a ranking metric reads from a final run (None for eval_loss)."""
    if metric == EVAL_LOSS:
        return None
    if metric == VAL_LOSS:
        ppl = next((d for d in snapshot.definitions.values() if d.aggregate == "perplexity"), None)
        if ppl is None:
            raise HarnessError(f"{snapshot.source}: val_loss needs a perplexity task in the final run; rank by another --metric ({METRIC_HELP})")
        return MetricDef(f"{ppl.task}/val_loss", ppl.task, ppl.score, dict(ppl.where), False, None, "ratio")
    if metric not in snapshot.definitions:
        raise HarnessError(f"--metric {metric}: not a metric of {snapshot.source} (it has: {', '.join(snapshot.definitions)}; "
                           f"or {VAL_LOSS}, {EVAL_LOSS})")
    return snapshot.definitions[metric]


def load_sweep(path: str | Path, metric: str | None = None) -> SweepResults:
    """Read a sweep directory (sweep.json and one training directory per variant)."""
    root = Path(path)
    plan = read_plan(root)
    if plan is None:
        raise HarnessError(f"{path}: not a sweep directory (no sweep.json); give the --out directory of `harness sweep`")
    metric = metric or plan.metric
    variants = [_variant(root, v) for v in plan.variants]
    results = SweepResults(str(root), plan, metric, metric not in (VAL_LOSS, EVAL_LOSS), variants)
    ref = results.reference
    for v in variants:
        if not v.finished:
            continue
        if metric == EVAL_LOSS:
            v.metric = {"value": v.evals[-1][1] if v.evals else None, "ci": None, "n": None}
            results.higher_is_better = False
        if v.snapshot is None:
            continue
        if metric != EVAL_LOSS:
            definition = metric_definition(v.snapshot, metric)
            results.higher_is_better = definition.higher_is_better
            units = v.snapshot.units(definition.name, "ckpt", definition)
            v.metric = summarize_metric(units)
        v.metrics = {name: dict(entry.get("ckpt") or {}) for name, entry in v.snapshot.metrics.items()}
        if v is ref:
            continue
        try:
            comparison = compare(ref.snapshot, v.snapshot, "ckpt")  # refuses runs that cannot be paired
        except HarnessError as e:
            v.not_comparable = str(e)
            continue
        for m in comparison.metrics:
            v.metrics.setdefault(m.name, {})["delta"] = m.delta
        if metric != EVAL_LOSS:
            ref_units = ref.snapshot.units(definition.name, "ckpt", metric_definition(ref.snapshot, metric))
            v.delta = summarize_delta(ref_units, units)
    return results


def _variant(root: Path, v) -> VariantResult:
    d = TrainingDir(root / v.name)
    out = VariantResult(v.name, dict(v.overrides), v.stage, v.status, v.note, str(d.path))
    if v.status == "smoke-failed":
        return out
    out.config = d.config()
    summary = d.summary()
    if summary is None:
        if d.path.is_dir():
            out.status = "running" if d.checkpoints() or out.config else out.status
        return out
    out.status = "done"
    out.stats = dict(summary.get("stats") or {})
    out.train = [tuple(p) for p in summary.get("train_loss", [])]
    out.smoothed = [tuple(p) for p in summary.get("train_loss_smoothed", [])]
    out.evals = [tuple(p) for p in summary.get("eval_loss", [])]
    out.diagnosis = summary.get("diagnosis")
    run = d.final_run()
    if run is not None and (run.path / "summary.json").is_file():
        out.run_dir = str(run.path)
        out.snapshot = from_run_dir(run.path)
    else:
        out.note = out.note or "no final run (trained with rescore.final off?): no scores to rank"
        _, log = d.trainer_log()
        if not out.train and log:
            out.train, out.evals = loss_points(log)
    return out
