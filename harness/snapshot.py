"""A finished run as `compare`, `gate` and `baseline save` see it.

A Snapshot holds the suite identity (name, version, per-task data hashes), the definition of
every metric the suite has (also of tasks this run skipped, so a policy can name them), the
summary metrics and the per-sample records paired deltas are computed from. It is read from a
run directory or from a baseline file (harness/baseline.py), so both can stand on either side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.metrics import Units, all_metrics, scoped_units
from harness.rundir import RunDir
from harness.suite import MetricSpec, load_suite, suite_version


@dataclass
class MetricDef:
    name: str  # full name, e.g. "format/json_validity_strict"
    task: str | None  # None for a pooled metric (over every task's records)
    spec: MetricSpec


@dataclass
class Snapshot:
    source: str  # the run directory or baseline file, as given (for messages)
    suite_name: str
    suite_version: str
    data_hashes: dict[str, str]  # task that ran -> hash of its samples file
    definitions: dict[str, MetricDef]  # every metric of the suite, run or not
    roles: list[str]
    models: dict[str, str]
    metrics: dict  # summary.json "metrics": the metrics of the tasks that ran
    records: list[dict]  # per-sample records: role, task, id, prompt, sample, scores / nll_sum, n_tokens

    def units(self, metric: str, role: str) -> Units:
        d = self.definitions[metric]
        return scoped_units(self.records, d.spec, d.task, role)

    def require_role(self, role: str) -> None:
        if role not in self.roles:
            raise HarnessError(
                f"{self.source} has no '{role}' model (it has: {', '.join(self.roles)}); choose one with --role"
            )

    def sample_ids(self, role: str) -> dict[str, set[str]]:
        """task -> ids of the samples this role has a record for."""
        out: dict[str, set[str]] = {}
        for r in self.records:
            if r["role"] == role:
                out.setdefault(r["task"], set()).add(r["id"])
        return out

    def prompts(self, role: str) -> dict[tuple[str, str], str | None]:
        return {(r["task"], r["id"]): r.get("prompt") for r in self.records if r["role"] == role}


def load_snapshot(path: str | Path) -> Snapshot:
    """A run directory or a baseline file (JSON from `harness baseline save`)."""
    p = Path(path)
    if p.is_dir():
        return from_run_dir(p)
    if p.is_file():
        from harness.baseline import read_baseline

        return read_baseline(p)
    raise HarnessError(f"{path}: no such run directory or baseline file (check the path)")


def from_run_dir(path: str | Path) -> Snapshot:
    run = RunDir.open_existing(path)
    summary = run.summary()  # a run without summary.json is unfinished: refused with the fix
    suite_cfg = run.config()["suite"]
    data_hashes = {task: cfg["data_hash"] for task, cfg in suite_cfg["tasks"].items()}
    suite_file = Path(suite_cfg["path"])
    if not suite_file.is_file():
        raise HarnessError(
            f"{path}: its suite file {suite_file} is not there any more; compare on the machine that made "
            "the run, or save a baseline there (`harness baseline save`), which carries what is needed"
        )
    # The metric definitions are read from the suite file, so it must be the file the run used.
    if suite_version(suite_file, list(data_hashes.values())) != suite_cfg["version"]:
        raise HarnessError(
            f"{path}: the suite file {suite_file} changed since this run was made, so its metrics may be "
            "defined differently now; rerun the suite, or compare against a baseline saved before the change"
        )
    return Snapshot(
        source=str(path),
        suite_name=suite_cfg["name"],
        suite_version=suite_cfg["version"],
        data_hashes=data_hashes,
        definitions=suite_definitions(suite_file),
        roles=list(summary["roles"]),
        models=dict(summary.get("models", {})),
        metrics=summary["metrics"],
        records=run.records(),
    )


def suite_definitions(suite_file: Path) -> dict[str, MetricDef]:
    """Every metric a suite file defines, over all its tasks."""
    suite = load_suite(str(suite_file))
    return {name: MetricDef(name, task, spec) for name, spec, task in all_metrics(suite)}
