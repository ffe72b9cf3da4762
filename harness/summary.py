"""The summarise stage of a run: metrics from the definitions stored with the run directory,
computed over its scored records (value, n, 95% CI, unscored, paired deltas)."""

from __future__ import annotations

from harness.metrics import summarize
from harness.records import SampleRecord
from harness.rundir import RunDir
from harness.suite import Suite
from harness.thinking import unfinished_thinking


def summarise(run: RunDir, suite: Suite, roles: list[str]) -> tuple[dict, list[SampleRecord]]:
    """summary.json's core (without the judge's and the human labels' parts, which their own layers
    add) and the scored records it was computed from."""
    records = run.scored()
    config = run.config()
    definitions = run.metric_definitions()
    if definitions is None:  # a format-1 run: its suite's metrics as defined today
        definitions = suite.metric_definitions({"judge"} if config.get("judge") else set())
    ran = set(config["suite"]["tasks"])
    written = {sid for r in records for sid in r.scores}
    definitions = [d for d in definitions if d.task in ran or (d.task is None and d.score in written)]
    summary = {
        "suite": suite.name,
        "suite_version": config["suite"]["version"],
        "run_dir": str(run.path),
        "roles": roles,
        "models": {r: n for r, n in roles_models(config).items() if r in roles},
        "metrics": summarize(definitions, records, roles),
        "unfinished_thinking": unfinished_thinking(records),
    }
    return summary, records


def roles_models(config: dict) -> dict[str, str]:
    ckpt = config["models"]["checkpoint"]
    return {"base": ckpt["model"], "ckpt": ckpt["adapter"] or ckpt["model"]}
