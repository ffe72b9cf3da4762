"""The gate: does a run meet a policy, on its own (min / max) and against a baseline (max_drop)?

Every metric the policy names gets a verdict with the checks that decided it, except the metrics
of tasks the run did not run (`--task` subsets): those are not gated, and listed as such. A metric
of a task that ran which the run does not have (a judge metric of a run without judge), or has no
data for (n = 0), fails. `harness gate` exits 1 when any metric fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.results.compare import Comparison, Flip, compare
from harness.errors import HarnessError
from harness.results.policy import Policy, Rule
from harness.results.snapshot import Snapshot

EXIT_PASS, EXIT_REGRESSION = 0, 1


@dataclass
class Check:
    rule: str  # "present", "min", "max" or "max_drop"
    passed: bool
    text: str  # e.g. "0.62 < min 0.8"


@dataclass
class MetricVerdict:
    metric: str
    higher_is_better: bool
    value: float | None  # the run's
    baseline: float | None  # the baseline's, when there is one
    delta: dict | None  # paired run - baseline: {value, n, ci, significant}
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def reason(self) -> str:
        """The checks that failed, or all of them when the metric passed."""
        failed = [c.text for c in self.checks if not c.passed]
        return "; ".join(failed or [c.text for c in self.checks])


@dataclass
class GateResult:
    suite: str
    role: str
    run: str
    baseline: str | None
    policy: str
    verdicts: list[MetricVerdict]
    regressions: list[Flip]  # samples that went pass -> fail on a gated metric
    allowed_differences: list[str] = field(default_factory=list)  # --allow-different: run and baseline made differently
    not_run: list[str] = field(default_factory=list)  # policy metrics of tasks this run did not run: not gated

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.passed else EXIT_REGRESSION


def run_gate(run: Snapshot, policy: Policy, baseline: Snapshot | None = None, role: str = "ckpt",
             allow: frozenset[str] = frozenset()) -> GateResult:
    run.require_role(role)
    needs_baseline = next((r for r in policy.rules if r.max_drop is not None), None)
    if baseline is None and needs_baseline:
        raise HarnessError(
            f"{policy.path}:{needs_baseline.line}: metric '{needs_baseline.metric}' has max_drop, which needs "
            "--baseline (a file from `harness baseline save`, or a run directory)"
        )
    comparison = compare(baseline, run, role, allow) if baseline is not None else None
    rules = [r for r in policy.rules if _task_ran(run, r.metric)]
    not_run = [r.metric for r in policy.rules if r not in rules]
    if not rules:
        raise HarnessError(f"{policy.path}: none of its metrics belongs to a task {run.source} ran (its tasks: "
                           f"{', '.join(run.data_hashes)}); run the tasks the policy gates, or give a policy for these")
    verdicts = [_verdict(rule, run, comparison, role) for rule in rules]
    gated = {r.metric for r in rules}
    regressions = [f for f in (comparison.flips if comparison else []) if f.worse and f.metric in gated]
    return GateResult(run.suite_name, role, run.source, baseline.source if baseline else None, str(policy.path),
                      verdicts, regressions, comparison.allowed_differences if comparison else [], not_run)


def _task_ran(run: Snapshot, metric: str) -> bool:
    """Whether the metric belongs to a task the run ran; a pooled metric (over every task): whether
    some task that ran writes its score."""
    definition = run.definitions.get(metric)
    if definition is None:
        return True
    if definition.task is None:
        return any(definition.score in r.scores for r in run.records)
    return definition.task in run.data_hashes


def _verdict(rule: Rule, run: Snapshot, comparison: Comparison | None, role: str) -> MetricVerdict:
    higher = run.definitions[rule.metric].higher_is_better
    entry = run.metrics.get(rule.metric, {}).get(role)
    paired = comparison.metric(rule.metric) if comparison else None
    verdict = MetricVerdict(rule.metric, higher, entry["value"] if entry else None,
                            paired.a["value"] if paired and paired.a else None,
                            paired.delta if paired else None, [])
    if entry is None:
        ran = ", ".join(run.data_hashes)
        verdict.checks.append(Check("present", False, f"not in this run (its tasks: {ran}); run the task that scores it"))
        return verdict
    if entry["value"] is None:
        verdict.checks.append(Check("present", False, f"no data in this run (n=0, {entry.get('unscored', 0)} unscored)"))
        return verdict
    value = entry["value"]
    if rule.min is not None:
        ok = value >= rule.min
        verdict.checks.append(Check("min", ok, f"{_num(value)} {'>=' if ok else '<'} min {_num(rule.min)}"))
    if rule.max is not None:
        ok = value <= rule.max
        verdict.checks.append(Check("max", ok, f"{_num(value)} {'<=' if ok else '>'} max {_num(rule.max)}"))
    if rule.max_drop is not None:
        verdict.checks.append(_drop_check(rule, higher, verdict.delta))
    return verdict


def _drop_check(rule: Rule, higher_is_better: bool, delta: dict | None) -> Check:
    if not delta or delta["value"] is None:
        return Check("max_drop", False, "no sample scored in both the run and the baseline, so no drop can be measured")
    drop = -delta["value"] if higher_is_better else delta["value"]  # > 0: worse than the baseline
    # the same rule as every report (harness.metrics.summarize_delta): exact sign test for pass/fail
    # metrics, the paired bootstrap for graded ones; a significant delta's sign is its direction
    significant_drop = bool(delta["significant"]) and drop > 0
    shown = f"({significance_text(delta)})"
    if drop < 0:  # better than the baseline
        return Check("max_drop", True, f"no drop (better by {_num(-drop)}), max_drop {_num(rule.max_drop)} {shown}")
    if drop <= rule.max_drop:
        return Check("max_drop", True, f"drop {_num(drop)} <= max_drop {_num(rule.max_drop)} {shown}")
    if rule.significant and not significant_drop:
        return Check("max_drop", True, f"drop {_num(drop)} > max_drop {_num(rule.max_drop)} but not significant {shown}")
    why = "significant" if significant_drop else "significance not required"
    return Check("max_drop", False, f"drop {_num(drop)} > max_drop {_num(rule.max_drop)}, {why} {shown}")


def significance_text(delta: dict) -> str:
    """'delta -0.5 [-1, +0], n=2, sign test p=0.5 (1 down, 0 up)' or '..., n=4, too few pairs (4 < 10)'."""
    lo, hi = delta["ci"]
    text = f"delta {delta['value'] + 0.0:+.4g} [{lo + 0.0:+.4g}, {hi + 0.0:+.4g}], n={delta['n']}"
    if delta.get("test") == "exact sign test":
        flips = delta["flips"]
        text += f", sign test p={delta['p_value']:.2g} ({flips['down']} down, {flips['up']} up)"
    if delta.get("note"):
        text += f", {delta['note']}"
    return text


def _num(x: float) -> str:
    return f"{x + 0.0:.4g}"  # + 0.0: -0.0 prints as 0


def metrics_count(n: int) -> str:
    return f"{n} metric" if n == 1 else f"{n} metrics"
