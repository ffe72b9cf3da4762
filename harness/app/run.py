"""`harness run`: generate -> score -> summarise -> render, each stage resumable.

    generate   answers only, appended to samples.jsonl as each batch finishes (`execute`)
    score      every scorer of the suite, judges included (harness.scoring -> scores.jsonl)
    summarise  metrics from the definitions stored with the run (harness.metrics -> summary.json)
    render     Rich table and report.md (reports/)

The stages live in the core (harness.generate, harness.scoring, harness.summary; config.json in
harness.run_config); this module wires them to a checkpoint and the terminal. The trainer's
rescoring callback calls `execute` with its own loaded backend, `harness score` and `harness
rescore` skip generation, and all of them end in `finish`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from harness.app.label_agreement import label_agreement
from harness.errors import HarnessError
from harness.generate import execute, model_names, pending_work
from harness.io.includes import include
from harness.io.writes import check_writable_dir
from harness.models.backends import make_backend
from harness.models.checkpoint import Checkpoint, resolve_model
from harness.models.model_loading import LoadOptions
from harness.rundir import RunDir
from harness.run_config import build_config
from harness.scoring import ScoringContext, score_run
from harness.suite import Suite, apply_limit, load_suite
from harness.summary import summarise
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
    engine: dict = field(default_factory=dict)  # --vllm KEY=VALUE, --vllm-python: the vllm backend's VLLMSettings

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
    if request.engine and ckpt.backend != "vllm":
        raise HarnessError(f"--vllm / --vllm-python: only with --backend vllm (this run's backend: {ckpt.backend})")
    return ckpt


def backend_for(request: RunRequest, ckpt: Checkpoint):
    """The model's backend; an endpoint's gets the --request-* settings (concurrency, timeout, retries)."""
    if ckpt.endpoint and request.requests:
        from harness.models.openai_client import EndpointSettings

        return make_backend(ckpt, endpoint=EndpointSettings(base_url=ckpt.endpoint, **request.requests))
    if request.engine:
        return make_backend(ckpt, settings=request.engine)
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
    try:
        if not resume:
            check_writable_dir(request.runs_dir, "--runs-dir")
            check_capability_tasks(suite)  # lm-eval tasks and their datasets load, before the model does
            backend = backend_for(request, ckpt)  # before the run dir exists: a model that cannot load leaves nothing behind
            run = RunDir.create(Path(request.runs_dir), suite.name, ckpt.name)
            backend.attach_run_dir(run.path)
            run.write_config(build_config(request, suite, ckpt, roles, backend, context.available))

        if backend is None and any(t.kind == "loglikelihood" for t in suite.tasks.values()):
            backend = backend_for(request, ckpt)  # --resume: batches of loglikelihood tasks are ordered by its token counts
            backend.attach_run_dir(run.path)
        pending = pending_work(suite, roles, run.records(), batch_size_for(request, ckpt),
                               loglikelihood_length=backend.loglikelihood_length if backend else None)
        if resume and any(b.task.kind == "capability" for b in pending):
            check_capability_tasks(suite)
        if pending and backend is None:
            backend = backend_for(request, ckpt)
            backend.attach_run_dir(run.path)
        console.print(f"[bold]Run[/bold] {run.path}  suite={suite.name}  ckpt={ckpt.spec}  roles={', '.join(roles)}")
        if pending:
            execute(suite, backend, pending, run, progress=progress_for(console), model_names=model_names(ckpt))
    finally:
        if backend is not None:
            backend.close()  # a server the backend started stops here (also on Ctrl-C and errors)
    score_run(run, suite, context)
    finish(run, suite, roles, console=console)
    return run


def check_capability_tasks(suite: Suite) -> None:
    """Capability tasks (lm-eval): every named task exists and its documents load; one line
    naming the task and its dataset otherwise (e.g. offline without the hub's datasets)."""
    tasks = [t for t in suite.tasks.values() if t.kind == "capability"]
    if tasks:
        from harness.capability import check_loadable
        from harness.capability_spec import LmEvalEntry

        for t in tasks:
            check_loadable(t.name, [LmEvalEntry.from_sample(s) for s in t.samples], t.include)


def scoring_context(request: RunRequest, console: Console) -> ScoringContext:
    return ScoringContext(options={"judge": request.judge}, progress=progress_for(console))


def finish(run: RunDir, suite: Suite, roles: list[str], *, console: Console) -> dict:
    """Summarise what the run directory holds (harness.summary), add the human labels' agreement and
    the judge's summary, write summary.json and report.md, then render in the terminal."""
    from reports.markdown import render_report
    from reports.terminal import print_run

    summary, records = summarise(run, suite, roles)
    agreement = label_agreement(suite, records)  # answers with human labels (`harness score`)
    if agreement:
        summary["label_agreement"] = agreement
    judgments = run.judgments()
    if judgments is not None:
        from judges.summary import judge_summary

        summary["judge"] = judge_summary(judgments, run.config().get("judge"))
        if not run.legacy:
            run.write_judgments(judgments)
    run.write_summary(summary)
    run.write_report(render_report(summary, suite, records, judgments))
    print_run(summary, run.path, console)
    return summary
