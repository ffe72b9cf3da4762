"""`harness rescore RUN`: score a finished run's answers again with today's scorers, no model loaded.

The result is a new run directory: the same answers (samples.jsonl copied), the scores of the
chosen scorers made again (all of them unless --task / --scorer narrow it), the other scores
copied, and config.json saying which run and which scorer versions it came from
(`rescored_from`). `harness compare OLD NEW` then lists what flipped and names the scorers whose
version changed. A baseline file can be rescored too; the result is a new baseline file.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from harness.errors import HarnessError
from harness.io.writes import atomic_write_text
from harness.records import SampleRecord, ScoreRecord
from harness.rundir import SAMPLES, RunDir
from harness.app.run import RunRequest, finish, scoring_context
from harness.run_config import metric_definitions, suite_description
from harness.scoring import score_run
from harness.io.includes import include
from harness.suite import Suite, load_suite


def rescore(source: str | Path, *, tasks: list[str] | None = None, scorers: list[str] | None = None,
            judge=None, runs_dir: str | None = None, out: str | None = None,
            console: Console | None = None) -> Path:
    """Rescore a run directory (-> a new run directory) or a baseline file (-> `out`, a new baseline file)."""
    console = console or Console()
    path = Path(source)
    if path.is_file():
        return _rescore_baseline(path, tasks, scorers, judge, out, console)
    old = RunDir.open_existing(path)
    if out:
        raise HarnessError("--out names the new baseline file when rescoring a baseline file; a run directory is "
                           "rescored into a new run directory under --runs-dir")
    config = old.config()
    for folder in (config.get("invocation") or {}).get("includes", []):  # the run's --include folders
        include(folder, f"{path}: config.json includes")
    suite = _suite_for(config, path)
    only = _selection(suite, tasks, scorers)
    context = scoring_context(RunRequest(suite="", ckpt="", judge=judge), console)
    new = RunDir.create(Path(runs_dir) if runs_dir else path.parent, suite.name, f"rescored-{path.name}"[:60])
    new.write_config(_rescored_config(config, suite, path, context.available, tasks, scorers, judge))
    if old.legacy:
        with new.appender() as f:
            for record in old.records():
                f.write(record.to_dict())
    else:
        shutil.copyfile(old.path / SAMPLES, new.path / SAMPLES)
    with new.score_appender() as f:  # the scores that are not made again
        for sr in old.score_records():
            if sr.task in suite.tasks and not only(sr.task, sr.scorer):
                f.write(sr.to_dict())
    n = score_run(new, suite, context, only=lambda task, spec: only(task, spec.id))
    console.print(f"rescored {n} score records of {path} with today's scorers")
    finish(new, suite, list(config["roles"]), console=console)
    return new.path


def _suite_for(config: dict, source: Path) -> Suite:
    suite_cfg = config["suite"]
    suite_path = Path(suite_cfg["path"])
    if not suite_path.is_file():
        raise HarnessError(f"{source}: its suite file {suite_path} is not there any more; rescore on the machine that "
                           "made the run, or with the suite file back in place")
    return load_suite(str(suite_path), tasks=list(suite_cfg["tasks"]))


def _selection(suite: Suite, tasks: list[str] | None, scorers: list[str] | None):
    for t in tasks or []:
        if t not in suite.tasks:
            raise HarnessError(f"--task {t}: not a task of this run (tasks: {', '.join(suite.tasks)})")
    known = {s.id for t in suite.tasks.values() for s in t.scorers} | {s.name for t in suite.tasks.values() for s in t.scorers}
    for s in scorers or []:
        if s not in known:
            raise HarnessError(f"--scorer {s}: no task of this run uses it (scorers: {', '.join(sorted(known))})")

    def only(task: str, scorer_id: str) -> bool:
        spec = next((s for s in suite.tasks[task].scorers if s.id == scorer_id), None)
        names = {scorer_id} | ({spec.name} if spec else set())
        return (not tasks or task in tasks) and (not scorers or bool(names & set(scorers)))

    return only


def _rescored_config(config: dict, suite: Suite, source: Path, available: set[str], tasks, scorers, judge=None) -> dict:
    new = {k: v for k, v in config.items() if k != "format_version"}
    if judge is not None:  # recorded like a judged run's, so `harness run --resume NEW` judges with it too
        new["judge"] = judge.describe()
        new["invocation"] = {**new.get("invocation", {}), "judge": asdict(judge)}
    new["suite"] = suite_description(suite)
    new["metric_definitions"] = metric_definitions(suite, available)
    new["rescored_from"] = {
        "run": str(source),
        "suite_version": config["suite"]["version"],
        "scorers": {t: cfg.get("scorers", {}) for t, cfg in config["suite"]["tasks"].items()},
        "tasks": tasks, "scorer_filter": scorers,
    }
    return new


def _rescore_baseline(path: Path, tasks, scorers, judge, out: str | None, console: Console) -> Path:
    """A baseline file is a run in one file: unpack it into a temporary run directory, rescore that,
    and save the result as a new baseline file."""
    import tempfile

    from harness.results.baseline import baseline_dict, read_baseline
    from harness.results.snapshot import from_run_dir

    if not out:
        raise HarnessError(f"rescoring the baseline file {path} writes a new baseline file: give it with --out FILE")
    snap = read_baseline(path)
    if any(r.output is None for r in snap.records if r.prompt is not None):
        raise HarnessError(f"{path}: this baseline file keeps no answers (format 1); save the run again with "
                           "`harness baseline save` to rescore it")
    suite = load_suite(snap.suite_name, tasks=list(snap.data_hashes))
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.create(Path(tmp), suite.name, "baseline")
        run.write_config({"suite": suite_description(suite), "roles": snap.roles,
                          "metric_definitions": {n: d.to_dict() for n, d in snap.definitions.items()},
                          "models": {"checkpoint": {"model": snap.models.get("base") or snap.models.get("ckpt"),
                                                    "adapter": snap.models.get("ckpt") if "base" in snap.models else None}}})
        with run.appender() as f:
            for r in snap.records:
                f.write(SampleRecord.from_dict(r.to_dict()).to_dict())
        with run.score_appender() as f:
            for r in snap.records:
                for sid, entry in r.scores.items():
                    f.write(ScoreRecord(r.role, r.task, r.id, sid, {sid: entry}).to_dict())
        rescored = rescore(run.path, tasks=tasks, scorers=scorers, judge=judge, runs_dir=tmp, console=console)
        doc = baseline_dict(from_run_dir(rescored))
    doc["source_run"] = str(path)
    doc["rescored_from"] = {"baseline": str(path)}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return Path(out)
