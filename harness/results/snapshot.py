"""A finished run as `compare`, `gate` and `baseline save` see it.

A Snapshot holds the suite identity (name, version, per-task data hashes), the definition of
every metric the run has (stored with the run, so judge metrics are there too), the summary
metrics and the scored per-sample records paired deltas are computed from. It is read from a run
directory or from a baseline file (harness/results/baseline.py), so both can stand on either side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.metrics import Units, metric_units
from harness.records import MetricDef, SampleRecord
from harness.rundir import RunDir
from harness.suite import load_suite, suite_version


@dataclass
class Snapshot:
    source: str  # the run directory or baseline file, as given (for messages)
    suite_name: str
    suite_version: str
    data_hashes: dict[str, str]  # task that ran -> hash of its samples file
    definitions: dict[str, MetricDef]  # every metric the run has
    roles: list[str]
    models: dict[str, str]
    metrics: dict  # summary.json "metrics": the metrics of the tasks that ran
    records: list[SampleRecord]  # scored per-sample records
    scorers: dict[str, dict] = field(default_factory=dict)  # "task/scorer id" -> {scorer, version, ...}
    rescored_from: dict | None = None  # what `harness rescore` made this from
    # how the answers were made, where it matters for a fair comparison: "generation/<task>"
    # (settings), "chat_template" (hash), "engine" (backend + settings), "judge_model"; a key a run did
    # not record is unknown
    conditions: dict[str, Any] = field(default_factory=dict)
    # config.json's models.checkpoint (spec, hashes; `exported_from` for a GGUF written by `harness export`)
    checkpoint: dict[str, Any] = field(default_factory=dict)

    def units(self, metric: str, role: str, definition: MetricDef | None = None) -> Units:
        """A metric's per-sample units (`definition`: the other side's, for a metric this one lacks)."""
        return metric_units(self.records, self.definitions.get(metric, definition), role)

    def require_role(self, role: str) -> None:
        if role not in self.roles:
            raise HarnessError(
                f"{self.source} has no '{role}' model (it has: {', '.join(self.roles)}); choose one with --role"
            )

    def sample_ids(self, role: str) -> dict[str, set[str]]:
        """task -> ids of the samples this role has a record for."""
        out: dict[str, set[str]] = {}
        for r in self.records:
            if r.role == role:
                out.setdefault(r.task, set()).add(r.id)
        return out

    def prompts(self, role: str) -> dict[tuple[str, str], str | None]:
        return {(r.task, r.id): r.prompt for r in self.records if r.role == role}


def from_run_dir(path: str | Path) -> Snapshot:
    run = RunDir.open_existing(path)
    summary = run.summary()  # a run without summary.json is unfinished: refused with the fix
    config = run.config()
    suite_cfg = config["suite"]
    definitions = run.metric_definitions()
    if definitions is None:
        definitions = legacy_definitions(path, suite_cfg, bool(config.get("judge")))
    return Snapshot(
        source=str(path),
        suite_name=suite_cfg["name"],
        suite_version=suite_cfg["version"],
        data_hashes={task: cfg["data_hash"] for task, cfg in suite_cfg["tasks"].items()},
        definitions={d.name: d for d in definitions},
        roles=list(summary["roles"]),
        models=dict(summary.get("models", {})),
        metrics=summary["metrics"],
        records=run.scored(),
        scorers=scorer_versions(suite_cfg),
        rescored_from=config.get("rescored_from"),
        conditions=run_conditions(config),
        checkpoint=dict((config.get("models") or {}).get("checkpoint") or {}),
    )


def run_conditions(config: dict) -> dict[str, Any]:
    """What config.json records of how the answers were made (unrecorded: left out, i.e. unknown)."""
    out: dict[str, Any] = {f"generation/{task}": cfg["generation"]
                           for task, cfg in config["suite"]["tasks"].items() if cfg.get("generation")}
    if config.get("chat_template_hash"):
        out["chat_template"] = config["chat_template_hash"]
    if config.get("engine"):  # the backend and its engine settings (vllm: dtype, max model len, ...)
        out["engine"] = config["engine"]
    if (config.get("judge") or {}).get("model"):
        out["judge_model"] = config["judge"]["model"]
    return out


def scorer_versions(suite_cfg: dict) -> dict[str, dict]:
    """"task/scorer id" -> what config.json says of the scorer (name, version, params)."""
    return {f"{task}/{sid}": dict(spec) for task, cfg in suite_cfg["tasks"].items()
            for sid, spec in cfg.get("scorers", {}).items()}


def legacy_definitions(path, suite_cfg: dict, judged: bool) -> list[MetricDef]:
    """A format-1 run stored no metric definitions: read them from its suite file, which must be
    the file the run used."""
    data_hashes = [cfg["data_hash"] for cfg in suite_cfg["tasks"].values()]
    suite_file = Path(suite_cfg["path"])
    if not suite_file.is_file():
        raise HarnessError(
            f"{path}: its suite file {suite_file} is not there any more; compare on the machine that made "
            "the run, or save a baseline there (`harness baseline save`), which carries what is needed"
        )
    if suite_version(suite_file, data_hashes) != suite_cfg["version"]:
        raise HarnessError(
            f"{path}: the suite file {suite_file} changed since this run was made, so its metrics may be "
            "defined differently now; rerun the suite, or compare against a baseline saved before the change"
        )
    return load_suite(str(suite_file)).metric_definitions({"judge"} if judged else set())
