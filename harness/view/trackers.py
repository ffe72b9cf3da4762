"""A finished run to the experiment trackers teams keep results in, through each library's own API:

    mlflow       one MLflow run (experiment $MLFLOW_EXPERIMENT_NAME, default "sft-harness"; the store
                 is $MLFLOW_TRACKING_URI's, e.g. file:./mlruns): params, metrics, the samples table
                 (mlflow.log_table -> samples.json), summary.json and report.md as artifacts
    wandb        one W&B run (project $WANDB_PROJECT, default "sft-harness"; WANDB_MODE=offline
                 keeps it on disk for `wandb sync`): config, metrics, a wandb.Table "samples"
    tensorboard  event files in <run dir>/tensorboard: a scalar per metric, the samples table as text

Metric names: `<metric>/<role>` (value), `<metric>/<role>_ci_low`, `_ci_high`, `<metric>/delta`,
`<metric>/delta_ci_low`, `_ci_high` (ckpt - base, paired bootstrap). The samples table has one row
per (task, sample): the prompt, each role's answer, each role's verdicts, the scorers that flipped.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

from harness.errors import HarnessError
from harness.view.run_data import RunView, load_run

TRACKERS = {"mlflow": "mlflow", "wandb": "wandb", "tensorboard": "tensorboard"}  # name -> the package it needs
PROJECT = "sft-harness"


def require(trackers: list[str]) -> None:
    """Before a run starts: every tracker's package is importable (else one line saying how to get it)."""
    for name in trackers:
        if name not in TRACKERS:
            raise HarnessError(f"--report-to {name}: not a tracker (choose from {', '.join(TRACKERS)})")
        try:
            importlib.import_module(TRACKERS[name])
        except ImportError:
            raise HarnessError(f"--report-to {name}: the {TRACKERS[name]} package is not installed "
                               f"(pip install {TRACKERS[name]}); nothing was run") from None


def flat_metrics(summary: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, m in summary.get("metrics", {}).items():
        for key, entry in m.items():
            if not isinstance(entry, dict) or entry.get("value") is None:
                continue
            label = "delta" if key == "delta" else key
            out[f"{name}/{label}"] = float(entry["value"])
            if entry.get("ci") and entry["ci"][0] is not None:
                out[f"{name}/{label}_ci_low"], out[f"{name}/{label}_ci_high"] = map(float, entry["ci"])
    return out


def params(view: RunView) -> dict[str, str]:
    cfg = view.config
    ckpt = (cfg.get("models") or {}).get("checkpoint") or {}
    suite = cfg.get("suite") or {}
    out = {"run_dir": str(view.path), "suite": suite.get("name"), "suite_version": suite.get("version"),
           "model": ckpt.get("model"), "adapter": ckpt.get("adapter"), "adapter_hash": ckpt.get("adapter_hash"),
           "backend": cfg.get("backend"), "roles": ",".join(view.roles), "tasks": ",".join(suite.get("tasks", {})),
           "judge_model": (cfg.get("judge") or {}).get("model")}
    return {k: str(v) for k, v in out.items() if v is not None}


def samples_table(view: RunView) -> tuple[list[str], list[list[str]]]:
    columns = ["task", "id", "prompt"]
    for role in view.roles:
        columns += [f"{role}_answer", f"{role}_verdicts"]
    columns.append("flipped")
    rows = []
    for r in view.rows:
        row = [r.task, r.id, r.prompt or ""]
        for role in view.roles:
            side = r.sides.get(role)
            if side is None:
                row += ["", ""]
                continue
            row.append(side.record.output or "")
            row.append("; ".join(f"{v.scorer if v.score == v.scorer else v.scorer + '/' + v.score}: "
                                 f"{v.entry.label or ('unscored' if v.entry.value is None else v.entry.value)}"
                                 f"{' ' + v.outcome if v.outcome else ''}" for v in side.verdicts))
        row.append(",".join(r.flipped))
        rows.append(row)
    return columns, rows


def send_run(run_dir: Path, trackers: list[str]) -> list[str]:
    """Send the run to each tracker; returns one line per tracker saying where it went."""
    require(trackers)
    view = load_run(run_dir)
    if view.summary is None:
        raise HarnessError(f"{run_dir}: no summary.json (the run did not finish); finish it with --resume first")
    out = []
    for name in trackers:
        try:
            out.append(SENDERS[name](view))
        except HarnessError:
            raise
        except Exception as e:  # the tracker's own failure (unreachable server, bad credentials)
            raise HarnessError(f"--report-to {name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                               f"(the run itself is complete in {run_dir})") from None
    return out


def to_mlflow(view: RunView) -> str:
    import mlflow

    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or PROJECT)
    columns, rows = samples_table(view)
    with mlflow.start_run(run_name=view.name) as active:
        mlflow.log_params(params(view))
        mlflow.log_metrics(flat_metrics(view.summary))
        mlflow.log_table({c: [row[i] for row in rows] for i, c in enumerate(columns)}, artifact_file="samples.json")
        mlflow.log_dict(view.summary, "summary.json")
        report = view.path / "report.md"
        if report.is_file():
            mlflow.log_artifact(str(report))
    return f"mlflow: run {active.info.run_id} in experiment {active.info.experiment_id} at {mlflow.get_tracking_uri()}"


def to_wandb(view: RunView) -> str:
    import wandb

    columns, rows = samples_table(view)
    run = wandb.init(project=os.environ.get("WANDB_PROJECT") or PROJECT, name=view.name, config=params(view),
                     job_type="eval", reinit="create_new")
    try:
        run.log({**flat_metrics(view.summary), "samples": wandb.Table(columns=columns, data=rows)})
    finally:
        run.finish()
    return f"wandb: run {run.id} ({run.settings.mode}) in {run.dir}"


def to_tensorboard(view: RunView) -> str:
    from torch.utils.tensorboard import SummaryWriter

    logdir = view.path / "tensorboard"
    columns, rows = samples_table(view)
    with SummaryWriter(log_dir=str(logdir)) as writer:
        for key, value in flat_metrics(view.summary).items():
            writer.add_scalar(key, value, 0)
        cell = lambda s: str(s).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")
        table = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        table += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
        writer.add_text("samples", "\n".join(table), 0)
        writer.add_text("run", json.dumps(params(view), indent=1), 0)
    return f"tensorboard: {logdir} (tensorboard --logdir {logdir})"


SENDERS = {"mlflow": to_mlflow, "wandb": to_wandb, "tensorboard": to_tensorboard}
