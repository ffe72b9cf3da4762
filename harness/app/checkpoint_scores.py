"""Rescoring checkpoints of a training run: each checkpoint against the base, base scored once.

Layout under the training output directory:

    scores.jsonl           one line per scored checkpoint: step, metrics (base, ckpt, delta)
    evals/base-checkpoint/ the base model's records for the per-checkpoint profile (computed once)
    evals/base-final/      ... for the full suite (computed once, at the end)
    evals/<time>-<profile>-<checkpoint>/   a normal run directory per checkpoint (report.md, summary.json)

"checkpoint" is the configurable fast profile (some tasks, some samples, shorter answers) used at
every saved checkpoint; "final" is the whole suite, run on the final adapter.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from harness.models.checkpoint import Checkpoint, weights_hash
from harness.io.jsonl import JsonlAppender, iter_complete_rows
from harness.rundir import RunDir
from harness.app.run import RunRequest, finish
from harness.generate import execute, model_names, pending_work
from harness.run_config import build_config
from reports.progress import progress_for
from harness.scoring import score_run
from harness.suite import Suite, load_suite, spread


class Rescorer:
    def __init__(self, output_dir: Path, suite: str, *, tasks: list[str] | None = None, max_samples: int | None = None,
                 gen: dict | None = None, final_gen: dict | None = None, batch_size: int = 8,
                 console: Console | None = None, final_tasks: list[str] | None = None):
        self.output_dir = Path(output_dir)
        self.evals = self.output_dir / "evals"
        self.scores_file = self.output_dir / "scores.jsonl"
        self.suite_name = suite
        self.tasks, self.max_samples = tasks, max_samples
        self.gen, self.final_gen = dict(gen or {}), dict(final_gen or {})
        self.final_tasks = final_tasks  # None: the whole suite on the final adapter
        self.batch_size = batch_size
        self.console = console or Console()

    def load(self, full: bool) -> Suite:
        if full:
            return load_suite(self.suite_name, tasks=self.final_tasks, gen_overrides=self.final_gen)
        suite = load_suite(self.suite_name, tasks=self.tasks, gen_overrides=self.gen)
        for task in suite.tasks.values():
            task.samples = spread(task.samples, self.max_samples)
        return suite

    def scored(self, profile: str, adapter_hash: str | None) -> dict | None:
        """The scores.jsonl line of these adapter weights in this profile, if they were scored."""
        if adapter_hash is None:
            return None
        return next((line for line in read_scores(self.output_dir)
                     if line.get("profile") == profile and line.get("adapter_hash") == adapter_hash), None)

    def score(self, backend, ckpt: Checkpoint, step: int | None, *, full: bool = False) -> dict:
        """Score `ckpt` (the adapter `backend` has on) against its base; append to scores.jsonl.
        Weights scored before (a resumed training run) are not scored again."""
        profile = "final" if full else "checkpoint"
        adapter_hash = weights_hash(ckpt.adapter)
        done = self.scored(profile, adapter_hash)
        if done is not None:
            self.console.print(f"[dim]{Path(ckpt.adapter).name}: already rescored ({self.scores_file.name}), skipped[/dim]")
            return done
        suite = self.load(full)
        base_records, base_scores = self._base_records(backend, suite, ckpt, profile)
        name = Path(ckpt.adapter or ckpt.spec).name
        run = RunDir.create(self.evals, profile, name)
        run.write_config(build_config(self._request(ckpt), suite, ckpt, ["base", "ckpt"], backend))
        with run.appender() as out:
            for record in base_records:
                out.write(record.to_dict())
        with run.score_appender() as out:
            for score_record in base_scores:
                out.write(score_record.to_dict())
        # During training only the one-line headline is printed; the full run shows its table.
        quiet = self.console if full else Console(quiet=True)
        execute(suite, backend, pending_work(suite, ["ckpt"], [], self.batch_size), run, progress=progress_for(quiet),
                model_names=model_names(ckpt))
        score_run(run, suite)
        summary = finish(run, suite, ["base", "ckpt"], console=self.console if full else quiet)
        line = {
            "step": step,
            "checkpoint": ckpt.adapter,
            "adapter_hash": adapter_hash,
            "profile": profile,
            "run_dir": str(run.path),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "metrics": {
                name: {"base": e["base"]["value"], "ckpt": e["ckpt"]["value"], "n": e["ckpt"]["n"],
                       "base_ci": e["base"]["ci"], "ckpt_ci": e["ckpt"]["ci"],  # the score panel's error bars
                       "delta": e["delta"]["value"], "delta_ci": e["delta"]["ci"], "significant": e["delta"]["significant"]}
                for name, e in summary["metrics"].items()
            },
        }
        with JsonlAppender(self.scores_file) as out:
            out.write(line)
        self.console.print(headline(line, suite.headline))
        return line

    def _base_records(self, backend, suite: Suite, ckpt: Checkpoint, profile: str):
        """The base model's answers and scores for this profile, computing only what is not yet stored."""
        path = self.evals / f"base-{profile}"
        run = RunDir(path)
        if not (path / "config.json").exists():
            path.mkdir(parents=True, exist_ok=True)
            run.write_config(build_config(self._request(ckpt), suite, ckpt, ["base"], backend))
        todo = pending_work(suite, ["base"], run.records(), self.batch_size)
        if todo:
            self.console.print(f"[dim]scoring the base model once ({profile} profile)...[/dim]")
            execute(suite, backend, todo, run, progress=progress_for(self.console), model_names=model_names(ckpt))
        score_run(run, suite)
        wanted = {(t.name, s["id"]) for t in suite.tasks.values() for s in t.samples}
        return ([r for r in run.records() if (r.task, r.id) in wanted],
                [s for s in run.score_records() if (s.task, s.id) in wanted])

    def _request(self, ckpt: Checkpoint) -> RunRequest:
        return RunRequest(suite=self.suite_name, ckpt=ckpt.adapter or ckpt.spec, tasks=self.tasks,
                          gen={k: str(v) for k, v in self.gen.items()}, batch_size=self.batch_size,
                          runs_dir=str(self.evals))


def headline(line: dict, names: dict[str, str]) -> str:
    """One line per checkpoint: the suite's headline metrics (`headline:` in its YAML) with deltas."""
    parts = []
    for name, short in names.items():
        m = line["metrics"].get(name)
        if not m or m["ckpt"] is None:
            continue
        delta = f" ({m['delta']:+.2f})" if m.get("delta") is not None else ""
        parts.append(f"{short} {m['ckpt']:.2f}{delta}")
    step = f"step {line['step']}" if line["step"] is not None else Path(line["checkpoint"] or "").name
    return f"[bold]{step}[/bold] [{line['profile']}] " + "  ".join(parts) + "   [dim](delta vs base)[/dim]"


def read_scores(output_dir: Path) -> list[dict]:
    from harness.lab.training_dir import TrainingDir

    return TrainingDir(output_dir).checkpoint_scores()
