"""`harness run`: generate -> score -> summarise -> render, each stage resumable.

    generate   answers only, appended to samples.jsonl as each batch finishes (`execute`)
    score      every scorer of the suite, judges included (harness.scoring -> scores.jsonl)
    summarise  metrics from the definitions stored with the run (harness.metrics -> summary.json)
    render     Rich table and report.md (reports/)

The pieces are reusable: the trainer's rescoring callback calls `execute` with its own loaded
backend, `harness score` and `harness rescore` skip generation, and all of them end in `finish`.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from harness.models.backends import make_backend
from harness.models.backends.base import Generation
from harness.models.checkpoint import Checkpoint, resolve_model
from harness.errors import HarnessError
from harness.app.label_agreement import label_agreement
from harness.metrics import summarize
from harness.models.model_loading import LoadOptions
from harness.records import SampleRecord
from harness.rundir import RunDir, package_versions
from harness.scoring import ScoringContext, score_run
from harness.suite import Suite, Task, apply_limit, load_suite, sample_messages, sample_prompt
from harness.thinking import thinking_warning, unfinished_thinking
from harness.io.includes import include
from harness.io.writes import check_writable_dir
from reports.progress import progress_for

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
    backend: str | None = None  # a registered backend other than the default (hf; openai for a URL)
    judge: JudgeOptions | None = None
    load: dict = field(default_factory=dict)  # model loading options (harness.models.model_loading.LoadOptions)
    requests: dict = field(default_factory=dict)  # --request-*: EndpointSettings fields for the openai backend
    limit: dict = field(default_factory=dict)  # --limit: at most N samples per task ({"*": N} for every task)
    includes: list = field(default_factory=list)  # --include folders (harness.io.includes), loaded again on --resume

    def __post_init__(self):
        if isinstance(self.judge, dict):  # from config.json on --resume
            from judges.options import JudgeOptions

            self.judge = JudgeOptions.from_dict(self.judge)


def checkpoint_of(request: RunRequest) -> Checkpoint:
    ckpt = resolve_model(request.ckpt, base=request.base, model_name=request.model_name,
                         trust_remote_code=request.trust_remote_code, backend=request.backend,
                         load=LoadOptions.parse(request.load))
    if request.requests and not ckpt.endpoint:
        flags = ", ".join(f"--request-{k.removesuffix('_s')}" for k in request.requests)
        raise HarnessError(f"{flags}: only for a model behind an API (--ckpt http://HOST:PORT/v1 --model-name NAME); "
                           f"--ckpt {request.ckpt} is loaded here")
    return ckpt


def backend_for(request: RunRequest, ckpt: Checkpoint):
    """The model's backend; an endpoint's gets the --request-* settings (concurrency, timeout, retries)."""
    if ckpt.endpoint and request.requests:
        from harness.models.openai_client import EndpointSettings

        return make_backend(ckpt, endpoint=EndpointSettings(base_url=ckpt.endpoint, **request.requests))
    return make_backend(ckpt)


def batch_size_for(request: RunRequest, ckpt: Checkpoint) -> int:
    """Prompts per batch. An endpoint answers a batch's requests `concurrency` at a time, so its batch
    holds at least that many (batches of a local model stay fixed: greedy answers depend on them)."""
    if ckpt.endpoint:
        return max(request.batch_size, int(request.requests.get("concurrency", 8)))
    return request.batch_size


def roles_for(ckpt: Checkpoint, no_base: bool) -> list[str]:
    """An adapter is scored with its base (adapter off) for the comparison, unless --no-base."""
    return ["base", "ckpt"] if ckpt.has_base and not no_base else ["ckpt"]


def run_suite(request: RunRequest, *, resume: str | None = None, console: Console | None = None) -> RunDir:
    console = console or Console()
    if resume:
        run = RunDir.open_existing(resume)
        saved = run.config()
        if run.legacy:
            raise HarnessError(f"{resume}: written by an older sft-harness (run format 1); it cannot be resumed, "
                               "only rescored (`harness rescore`) or compared")
        request = RunRequest(**saved["invocation"])
        for folder in request.includes:
            include(folder, f"{resume}: config.json includes")
        run.check_writable()  # a read-only copy of a run: say so before loading any model
    suite = load_suite(request.suite, tasks=request.tasks, data_overrides=request.data, gen_overrides=request.gen)
    apply_limit(suite, request.limit)
    context = scoring_context(request, console)
    if request.judge and not any(s.info.requires for t in suite.tasks.values() for s in t.scorers):
        raise HarnessError(
            f"--judge: no selected task of suite {suite.name} has a judge scorer (judge_pairwise, judge_rubric, "
            f"judge_refusal in its YAML; lab1: compare10, safety); selected: {', '.join(suite.tasks)}"
        )
    if request.judge:
        request.judge.check_reachable()  # before generation: a judge that is down costs nothing
    ckpt = checkpoint_of(request)
    roles = roles_for(ckpt, request.no_base)
    backend = None
    if resume:
        if saved["suite"]["version"] != suite.version():
            raise HarnessError(
                f"{resume}: the suite changed since this run started (version {saved['suite']['version']} "
                f"-> {suite.version()}); start a new run instead of resuming"
            )
    else:
        check_writable_dir(request.runs_dir, "--runs-dir")
        backend = backend_for(request, ckpt)  # before the run dir exists: a model that cannot load leaves nothing behind
        run = RunDir.create(Path(request.runs_dir), suite.name, ckpt.name)
        run.write_config(build_config(request, suite, ckpt, roles, backend, context.available))

    if backend is None and any(t.kind == "loglikelihood" for t in suite.tasks.values()):
        backend = backend_for(request, ckpt)  # --resume: batches of loglikelihood tasks are ordered by its token counts
    pending = pending_work(suite, roles, run.records(), batch_size_for(request, ckpt),
                           loglikelihood_length=getattr(backend, "loglikelihood_length", None))
    if pending and backend is None:
        backend = backend_for(request, ckpt)
    console.print(f"[bold]Run[/bold] {run.path}  suite={suite.name}  ckpt={ckpt.spec}  roles={', '.join(roles)}")
    if pending:
        execute(suite, backend, pending, run, console=console, model_names=_model_names(ckpt))
    score_run(run, suite, context)
    finish(run, suite, roles, console=console)
    return run


def scoring_context(request: RunRequest, console: Console) -> ScoringContext:
    return ScoringContext(options={"judge": request.judge}, progress=progress_for(console))


def build_config(request: RunRequest, suite: Suite, ckpt: Checkpoint, roles: list[str], backend,
                 available: set[str] = frozenset()) -> dict:
    template = getattr(getattr(backend, "tokenizer", None), "chat_template", None)
    config = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "invocation": asdict(request),
        "argv": sys.argv,
        "roles": roles,
        "suite": suite_description(suite),
        "metric_definitions": metric_definitions(suite, available),
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
                "scorers": {s.id: s.describe() for s in t.scorers},
            }
            for t in suite.tasks.values()
        },
    }


def metric_definitions(suite: Suite, available: set[str]) -> dict:
    """config.json's `metric_definitions`: every metric of the suite file (also of tasks this run
    skipped, so a gate policy can name them) for a run with `available` extras (e.g. a judge)."""
    whole = load_suite(str(suite.path)) if set(suite.tasks) != set(_task_names(suite.path)) else suite
    return {m.name: m.to_dict() for m in whole.metric_definitions(available)}


def _task_names(path) -> list[str]:
    from harness.io.yaml_lines import load_yaml

    return list((load_yaml(path) or {}).get("tasks") or {})


@dataclass
class Batch:
    role: str
    task: Task
    samples: list[dict]
    todo: set[str]  # sample ids still missing; the whole batch is regenerated so outputs match


def pending_work(suite: Suite, roles: list[str], done_records: list[SampleRecord], batch_size: int,
                 loglikelihood_length=None) -> list[Batch]:
    """Fixed batches (same composition on every run and resume, so greedy outputs are identical).

    Samples are ordered by the length of their text; loglikelihood tasks by token count when
    `loglikelihood_length(messages, mask)` (the backend's) is given: less padding per batch."""
    done = {r.key for r in done_records}
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
    """The generate stage: answers (or NLLs) of the pending batches, appended as each batch finishes."""
    progress = progress_for(console)
    progress.start("generating", sum(len(b.todo) for b in batches))
    with run.appender() as out, progress:
        for batch in batches:
            progress.describe(f"{batch.role:>4} {batch.task.name}")
            for sample, record in zip(batch.samples, _run_batch(backend, batch, model_names)):
                if sample["id"] in batch.todo:
                    out.write(record.to_dict())
                    progress.advance()


def _run_batch(backend, batch: Batch, model_names: dict) -> list[SampleRecord]:
    task = batch.task
    model = model_names[batch.role]
    if task.kind == "loglikelihood":
        if not backend.supports_loglikelihood:  # recorded, and scored "unscored" with the reason
            records = [new_record(batch.role, model, task, s) for s in batch.samples]
            for record in records:
                record.unsupported = getattr(backend, "no_loglikelihood_reason", f"the {backend.name} backend has no loglikelihoods")
            return records
        results = backend.loglikelihood([s["messages"] for s in batch.samples], mask=task.mask, role=batch.role)
        out = []
        for s, result in zip(batch.samples, results):
            record = new_record(batch.role, model, task, s)
            record.nll_sum, record.n_tokens, record.n_bytes = result.nll_sum, result.n_tokens, result.n_bytes
            out.append(record)
        return out
    gens = backend.generate([sample_messages(s) for s in batch.samples], task.generation, role=batch.role)
    return [answer_record(batch.role, model, task, s, g) for s, g in zip(batch.samples, gens)]


def new_record(role: str, model: str, task: Task, sample: dict) -> SampleRecord:
    return SampleRecord(role, model, task.name, sample["id"], sample_prompt(sample) if task.kind == "generate" else None,
                        {k: v for k, v in sample.items() if k != "__line__"})


def answer_record(role: str, model: str, task: Task, sample: dict, answer: Generation) -> SampleRecord:
    record = new_record(role, model, task, sample)
    record.output, record.raw, record.finish_reason = answer.text, answer.raw, answer.finish_reason
    record.prompt_tokens, record.completion_tokens = answer.prompt_tokens, answer.completion_tokens
    return record


def _model_names(ckpt: Checkpoint) -> dict[str, str]:
    return {"base": ckpt.model, "ckpt": ckpt.adapter or ckpt.model}


def finish(run: RunDir, suite: Suite, roles: list[str], *, console: Console) -> dict:
    """Summarise what the run directory holds with its stored metric definitions, then render."""
    from reports.markdown import render_report
    from reports.terminal import print_judge, print_summary

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
        "models": {r: n for r, n in _roles_models(config).items() if r in roles},
        "metrics": summarize(definitions, records, roles),
        "unfinished_thinking": unfinished_thinking(records),
    }
    agreement = label_agreement(suite, records)  # answers with human labels (`harness score`)
    if agreement:
        summary["label_agreement"] = agreement
    judgments = run.judgments()
    if judgments is not None:
        from judges.summary import judge_summary

        summary["judge"] = judge_summary(judgments, config.get("judge"))
        if not run.legacy:
            run.write_judgments(judgments)
    run.write_summary(summary)
    run.write_report(render_report(summary, suite, records, judgments))
    print_summary(summary, console)
    print_judge(summary, console)
    if warning := thinking_warning(summary):
        console.print(f"[yellow]{warning}[/yellow]", highlight=False)
    console.print(f"Run directory: [bold]{run.path}[/bold]  (report.md, summary.json, samples.jsonl, scores.jsonl)")
    return summary


def _roles_models(config: dict) -> dict[str, str]:
    ckpt = config["models"]["checkpoint"]
    return {"base": ckpt["model"], "ckpt": ckpt["adapter"] or ckpt["model"]}
