"""One evaluation run: suite x models -> records (appended as they finish) -> summary -> reports.

`run_suite` is what `harness run` does. Its pieces are reusable: `execute` scores pending samples
with an already loaded backend (the trainer's rescoring callback uses it), `finish` writes the
summary and report from whatever records the run directory holds. With --judge, `judge_phase`
(judges/phase.py) runs between the two: pairwise judging needs every answer of both roles.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from harness.backends.base import Generation
from harness.checkpoint import Checkpoint, resolve_checkpoint, resolve_endpoint
from harness.errors import HarnessError
from harness.label_agreement import label_agreement
from harness.metrics import summarize
from harness.openai_client import looks_like_url
from harness.rundir import RunDir, package_versions
from harness.suite import Suite, Task, load_suite, sample_messages, sample_prompt

if TYPE_CHECKING:
    from judges.options import JudgeOptions


@dataclass
class RunRequest:
    """Everything `harness run` was asked; saved in config.json so --resume can redo it."""

    suite: str
    ckpt: str
    base: str | None = None
    no_base: bool = False
    tasks: list[str] | None = None
    data: dict[str, str] = field(default_factory=dict)
    gen: dict[str, str] = field(default_factory=dict)
    batch_size: int = 8
    trust_remote_code: bool = False
    runs_dir: str = "runs"
    model_name: str | None = None  # the served model's id when ckpt is an endpoint URL
    judge: JudgeOptions | None = None

    def __post_init__(self):
        if isinstance(self.judge, dict):  # from config.json on --resume
            from judges.options import JudgeOptions

            self.judge = JudgeOptions(**self.judge)


def resolve_model(request: RunRequest) -> Checkpoint:
    if looks_like_url(request.ckpt):
        return resolve_endpoint(request.ckpt, request.model_name)
    if request.model_name:
        raise HarnessError(f"--model-name names a model at an endpoint; --ckpt {request.ckpt} is not a URL "
                           "(drop --model-name, or give --ckpt http://HOST:PORT/v1)")
    return resolve_checkpoint(request.ckpt, base=request.base, trust_remote_code=request.trust_remote_code)


def make_backend(ckpt: Checkpoint):
    """The hf backend for local models, the openai backend for an endpoint."""
    if ckpt.endpoint:
        from harness.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(ckpt)
    from harness.backends.hf import HFBackend

    return HFBackend(ckpt)


def roles_for(ckpt: Checkpoint, no_base: bool) -> list[str]:
    """An adapter is scored with its base (adapter off) for the comparison, unless --no-base."""
    return ["base", "ckpt"] if ckpt.has_base and not no_base else ["ckpt"]


def run_suite(request: RunRequest, *, resume: str | None = None, console: Console | None = None) -> RunDir:
    console = console or Console()
    if resume:
        run = RunDir.open_existing(resume)
        saved = run.config()
        request = RunRequest(**saved["invocation"])
    suite = load_suite(request.suite, tasks=request.tasks, data_overrides=request.data, gen_overrides=request.gen)
    if request.judge:
        _add_judge_metrics(suite)
    ckpt = resolve_model(request)
    roles = roles_for(ckpt, request.no_base)
    backend = None
    if resume:
        if saved["suite"]["version"] != suite.version():
            raise HarnessError(
                f"{resume}: the suite changed since this run started (version {saved['suite']['version']} "
                f"-> {suite.version()}); start a new run instead of resuming"
            )
    else:
        backend = make_backend(ckpt)  # before the run dir exists: a model that cannot load leaves nothing behind
        run = RunDir.create(Path(request.runs_dir), suite.name, ckpt.name)

    pending = pending_work(suite, roles, run.records(), request.batch_size,
                           loglikelihood_length=getattr(backend, "loglikelihood_length", None))
    if pending and backend is None:
        backend = make_backend(ckpt)
        pending = pending_work(suite, roles, run.records(), request.batch_size,  # resume: token order needs the backend
                               loglikelihood_length=getattr(backend, "loglikelihood_length", None))
    if not resume:
        run.write_config(build_config(request, suite, ckpt, roles, backend))
    console.print(f"[bold]Run[/bold] {run.path}  suite={suite.name}  ckpt={ckpt.spec}  roles={', '.join(roles)}")
    if pending:
        execute(suite, backend, pending, run, console=console, model_names=_model_names(ckpt))
    if request.judge:
        from judges.phase import judge_phase

        judge_phase(run, suite, roles, request.judge, console=console)
    finish(run, suite, roles, console=console)
    return run


def _add_judge_metrics(suite: Suite) -> None:
    from judges.metrics import add_judge_metrics

    if not add_judge_metrics(suite):
        raise HarnessError(
            f"--judge: no selected task of suite {suite.name} asks for a judge (a `judge:` section in its YAML; "
            f"lab1: compare10, safety); selected: {', '.join(suite.tasks)}"
        )


def build_config(request: RunRequest, suite: Suite, ckpt: Checkpoint, roles: list[str], backend) -> dict:
    template = getattr(getattr(backend, "tokenizer", None), "chat_template", None)
    config = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "invocation": asdict(request),
        "argv": sys.argv,
        "roles": roles,
        "suite": suite_description(suite),
        "models": {"checkpoint": ckpt.describe()},
        "chat_template_hash": hashlib.sha256(str(template).encode()).hexdigest()[:16] if template else None,
        "backend": getattr(backend, "name", None),
        "device": str(getattr(backend, "device", "")),
        "versions": package_versions(),
    }
    if request.judge:
        config["judge"] = request.judge.describe()
    return config


def suite_description(suite: Suite) -> dict:
    return {
        "name": suite.name,
        "path": str(suite.path),
        "version": suite.version(),
        "tasks": {
            t.name: {
                "kind": t.kind,
                "samples_file": str(t.samples_file),
                "data_hash": t.data_hash(),
                "n_samples": len(t.samples),
                "generation": t.generation.to_dict(),
                "scorers": {s.id: {"scorer": s.name, **s.params} for s in t.scorers},
            }
            for t in suite.tasks.values()
        },
    }


@dataclass
class Batch:
    role: str
    task: Task
    samples: list[dict]
    todo: set[str]  # sample ids still missing; the whole batch is regenerated so outputs match


def pending_work(suite: Suite, roles: list[str], done_records: list[dict], batch_size: int,
                 loglikelihood_length=None) -> list[Batch]:
    """Fixed batches (same composition on every run and resume, so greedy outputs are identical).

    Samples are ordered by the length of their text; loglikelihood tasks by token count when
    `loglikelihood_length(messages, mask)` (the backend's) is given: less padding per batch."""
    done = {(r["role"], r["task"], r["id"]) for r in done_records}
    batches = []
    for role in roles:
        for task in suite.tasks.values():
            ordered = sorted(task.samples, key=_sample_order(task, loglikelihood_length))
            for i in range(0, len(ordered), batch_size):
                chunk = ordered[i : i + batch_size]
                todo = {s["id"] for s in chunk if (role, task.name, s["id"]) not in done}
                if todo:
                    batches.append(Batch(role, task, chunk, todo))
    return batches


def _sample_order(task: Task, loglikelihood_length):
    if task.kind == "loglikelihood" and loglikelihood_length is not None:
        return lambda s: (loglikelihood_length(s["messages"], task.mask), s["id"])
    return lambda s: (len(str(s.get("prompt", s.get("messages")))), s["id"])


def execute(suite: Suite, backend, batches: list[Batch], run: RunDir, *, console: Console, model_names: dict) -> None:
    total = sum(len(b.todo) for b in batches)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with run.appender() as out, Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("scoring", total=total)
        for batch in batches:
            progress.update(bar, description=f"{batch.role:>4} {batch.task.name}")
            for sample, record in zip(batch.samples, _run_batch(backend, batch, model_names)):
                if sample["id"] in batch.todo:
                    out.write(record)
                    progress.advance(bar)


def _run_batch(backend, batch: Batch, model_names: dict) -> list[dict]:
    task = batch.task
    conversations = [sample_messages(s) if task.kind == "generate" else s["messages"] for s in batch.samples]
    if task.kind == "loglikelihood":
        if not getattr(backend, "supports_loglikelihood", True):
            return [_no_loglikelihood_record(batch.role, model_names[batch.role], task, s) for s in batch.samples]
        results = backend.loglikelihood(conversations, mask=task.mask, role=batch.role)
        return [
            base_record(batch.role, model_names[batch.role], task, s) | {"nll_sum": nll, "n_tokens": n, "n_bytes": n_bytes}
            for s, (nll, n, n_bytes) in zip(batch.samples, results)
        ]
    gens = backend.generate(conversations, task.generation, role=batch.role)
    return [answer_record(batch.role, model_names[batch.role], task, s, g) for s, g in zip(batch.samples, gens)]


def base_record(role: str, model: str, task: Task, sample: dict) -> dict:
    return {
        "role": role,
        "model": model,
        "task": task.name,
        "id": sample["id"],
        "prompt": sample_prompt(sample) if task.kind == "generate" else None,
        "sample": {k: v for k, v in sample.items() if k != "__line__"},
    }


def _no_loglikelihood_record(role: str, model: str, task: Task, sample: dict) -> dict:
    """A backend without log-likelihoods (an API endpoint): unscored, with the reason."""
    from harness.backends.openai_backend import NO_LOGLIKELIHOOD

    why = {"value": None, "label": "unsupported", "reason": f"unscored: {NO_LOGLIKELIHOOD}"}
    return base_record(role, model, task, sample) | {"nll_sum": None, "n_tokens": None, "scores": {"perplexity": why}}


def answer_record(role: str, model: str, task: Task, sample: dict, answer: Generation) -> dict:
    scores = {}
    for spec in task.scorers:
        score = spec.fn(sample, answer)
        if score is not None:
            scores[spec.id] = score.to_dict()
    return base_record(role, model, task, sample) | {
        "output": answer.text,
        "raw": answer.raw,
        "finish_reason": answer.finish_reason,
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "scores": scores,
    }


def _model_names(ckpt: Checkpoint) -> dict[str, str]:
    return {"base": ckpt.model, "ckpt": ckpt.adapter or ckpt.model}


def finish(run: RunDir, suite: Suite, roles: list[str], *, console: Console) -> dict:
    from reports.markdown import render_report
    from reports.terminal import print_judge, print_summary

    records = run.records()
    config = run.config()
    summary = {
        "suite": suite.name,
        "suite_version": suite.version(),
        "run_dir": str(run.path),
        "roles": roles,
        "models": {r: n for r, n in _roles_models(config).items() if r in roles},
        "metrics": summarize(suite, records, roles),
    }
    agreement = label_agreement(suite, records)  # answers with human labels (`harness score`)
    if agreement:
        summary["label_agreement"] = agreement
    judgments = run.judgments()
    if judgments is not None:
        from judges.summary import judge_summary

        summary["judge"] = judge_summary(judgments, config.get("judge"))
    run.write_summary(summary)
    run.write_report(render_report(summary, suite, records, judgments))
    print_summary(summary, console)
    print_judge(summary, console)
    console.print(f"Run directory: [bold]{run.path}[/bold]  (report.md, summary.json, samples.jsonl)")
    return summary


def _roles_models(config: dict) -> dict[str, str]:
    ckpt = config["models"]["checkpoint"]
    return {"base": ckpt["model"], "ckpt": ckpt["adapter"] or ckpt["model"]}
