"""The `harness` command line.

Exit codes: 0 done (the gate: passed), 1 the gate found a regression, 2 bad input (every
HarnessError: one line on stderr), 3 an internal error (a bug in sft-harness or a library: one
line, the traceback saved to a file, or printed with --verbose), 130 interrupted. A CI job can
tell a worse model (1) from a broken command (2) or a broken harness (3)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from rich.console import Console

from harness.errors import HarnessError, HarnessWarning

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="score a checkpoint (and its base, for an adapter) on a suite")
    p.add_argument("--suite", default="lab1", help="built-in suite name or path to a suite YAML (default: lab1)")
    p.add_argument("--ckpt", help="adapter dir, model dir, hub id, or 'smollm2-135m-instruct' (the bundled model)")
    p.add_argument("--base", help="base model of an adapter (overrides adapter_config.json)")
    p.add_argument("--no-base", action="store_true", help="do not score the adapter's base model")
    p.add_argument("--task", action="append", dest="tasks", help="run only this task (repeatable)")
    p.add_argument("--data", action="append", default=[], metavar="[TASK=]FILE",
                   help="replace a task's samples; a bare FILE replaces the loglikelihood (ppl) task's")
    p.add_argument("--gen", action="append", default=[], metavar="KEY=VALUE",
                   help="generation setting for every task, e.g. --gen temperature=0.7 --gen max_new_tokens=64")
    p.add_argument("--batch-size", type=int, default=8, help="prompts generated together (default: 8); batches are fixed, so greedy answers repeat")
    p.add_argument("--limit", action="append", default=[], metavar="[TASK=]N",
                   help="at most N samples per task, or a fraction 0 < N < 1 of each task's samples (rounded up, as "
                        "lm-eval's --limit); TASK=N for that task only; spread evenly over each file")
    p.add_argument("--runs-dir", default="runs", help="where run directories are created (default: runs)")
    _add_json_flag(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run without redoing finished samples "
                   "(it re-runs what config.json recorded: other run flags are refused)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow model code from the checkpoint (off by default)")
    p.add_argument("--model-name", help="with --ckpt http://HOST:PORT/v1 (an OpenAI-compatible server): the served model's id")
    p.add_argument("--backend", help="a registered model backend other than the default (hf; openai for a URL)")
    _add_load_flags(p)
    _add_request_flags(p)
    _add_vllm_flags(p)
    _add_judge_flags(p)
    p.add_argument("--allow-unscored-judge", action="store_true",
                   help="exit 0 even when every judgment failed (judge down, unparseable replies); by default such a "
                        "run exits 2 (its run directory is kept)")
    p.add_argument("--report-to", action="append", default=[], choices=["mlflow", "wandb", "tensorboard"],
                   help="also send the run's metrics (with CIs) and a samples table to this tracker (repeatable; docs/view.md)")


def _add_vllm_flags(p) -> None:
    g = p.add_argument_group("the vllm backend (--backend vllm: a vLLM server started for the run; docs/scale-out.md)")
    g.add_argument("--vllm-python", metavar="PATH",
                   help="the Python that has vllm (default: $SFT_HARNESS_VLLM_PYTHON, else ./.venv-vllm/bin/python)")
    g.add_argument("--vllm", action="append", default=[], metavar="KEY=VALUE",
                   help="an engine setting (repeatable): tensor_parallel_size, gpu_memory_utilization, max_model_len, "
                        "kv_cache_gib, dtype, enforce_eager, max_lora_rank, max_num_seqs, concurrency, startup_timeout_s, "
                        "extra_args ('--flag value ...')")


def _vllm_options(args) -> dict:
    """--vllm KEY=VALUE and --vllm-python, checked now (one line on a bad key or value)."""
    from harness.models.backends.vllm import VLLMSettings

    given = {}
    for item in args.vllm:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"--vllm {item!r}: expected KEY=VALUE, e.g. --vllm max_model_len=4096")
        given[key.strip()] = value
    VLLMSettings.parse(given)
    if args.vllm_python:
        given["python"] = args.vllm_python
    return given


def _add_load_flags(p) -> None:
    g = p.add_argument_group("model loading (transformers from_pretrained)")
    g.add_argument("--dtype", metavar="NAME", help="auto (default: bf16 on a GPU that supports it, else fp32), bf16/bfloat16, fp16/float16, fp32/float32")
    g.add_argument("--device-map", metavar="MAP", help="e.g. auto (spread over the GPUs and CPU), cpu, cuda:0; default: all on one device")
    g.add_argument("--attn-implementation", metavar="NAME", help="e.g. sdpa, eager, flash_attention_2; default: the library's choice")
    g.add_argument("--revision", metavar="REV", help="branch, tag or commit of the hub repo --ckpt names (default: main); the commit is recorded")
    g.add_argument("--load-in-4bit", action="store_true", help="load the weights in 4-bit NF4 (bitsandbytes), as QLoRA trains")


def _load_options(args) -> dict:
    """The loading flags that were given, checked now (one line on a bad value)."""
    from harness.models.model_loading import LoadOptions

    given = {k: getattr(args, k) for k in ("dtype", "device_map", "attn_implementation", "revision") if getattr(args, k)}
    if args.load_in_4bit:
        given["load_in_4bit"] = True
    return LoadOptions.parse(given, lambda key: "--" + key.replace("_", "-")).describe()


def _add_request_flags(p) -> None:
    g = p.add_argument_group("a model served over an OpenAI-compatible API (--ckpt URL, the openai backend)")
    g.add_argument("--request-concurrency", type=int, metavar="N",
                   help="requests in flight at once (default: 8); a batch holds at least this many prompts")
    g.add_argument("--request-timeout", type=float, metavar="S", help="seconds per request (default: 60)")
    g.add_argument("--request-retries", type=int, metavar="N",
                   help="retries on 429, 5xx, timeouts, connection errors (default: 4)")
    g.add_argument("--request-backoff", type=float, metavar="S", help="first retry wait in seconds, doubling (default: 1)")


def _request_options(args) -> dict:
    """The --request-* flags given, checked (harness.models.openai_client.EndpointSettings field names)."""
    given = {field: value for field, value in (
        ("concurrency", args.request_concurrency), ("timeout_s", args.request_timeout),
        ("retries", args.request_retries), ("backoff_s", args.request_backoff)) if value is not None}
    for flag, field, low, strict in (("--request-concurrency", "concurrency", 1, False), ("--request-retries", "retries", 0, False),
                                     ("--request-timeout", "timeout_s", 0, True), ("--request-backoff", "backoff_s", 0, False)):
        value = given.get(field)
        if value is not None and (value < low or (strict and value == low)):
            raise HarnessError(f"{flag} must be {'>' if strict else '>='} {low}, got {value:g}")
    return given


def _add_judge_flags(p) -> None:
    from harness.models.openai_client import EndpointSettings
    from judges.options import JudgeOptions

    d, max_tokens = EndpointSettings(), JudgeOptions(url="").max_tokens  # the defaults live there, once
    g = p.add_argument_group("LLM judge (docs/judge.md)")
    g.add_argument("--judge", metavar="URL|local:MODEL",
                   help="judge the suite's judged tasks: an OpenAI-compatible base URL (with --judge-model), "
                        "or local:MODEL to start `harness serve` on MODEL for the run")
    g.add_argument("--judge-model", help="the judge model's id at --judge URL")
    g.add_argument("--judge-api-key-env", default=d.api_key_env, metavar="VAR",
                   help=f"environment variable holding the judge's API key (default: {d.api_key_env}; never written to disk)")
    g.add_argument("--judge-concurrency", type=int, default=d.concurrency,
                   help=f"judge requests in flight at once (default: {d.concurrency})")
    g.add_argument("--judge-timeout", type=float, default=d.timeout_s,
                   help=f"seconds per judge request attempt (default: {d.timeout_s:g})")
    g.add_argument("--judge-retries", type=int, default=d.retries,
                   help=f"retries on 408/409/429, 5xx, timeouts, connection errors (default: {d.retries})")
    g.add_argument("--judge-backoff", type=float, default=d.backoff_s,
                   help=f"first retry wait in seconds, doubling (at most 30 s); a server's Retry-After wins (default: {d.backoff_s:g})")
    g.add_argument("--judge-max-tokens", type=int, default=max_tokens, help=f"judge reply length limit (default: {max_tokens})")
    g.add_argument("--judge-cache", metavar="DIR", help="judge reply cache (default: ~/.cache/sft-harness/judge)")


def _judge_options(args):
    from harness.models.openai_client import EndpointSettings
    from judges.options import JudgeOptions

    if not args.judge:
        if args.judge_model:
            raise HarnessError("--judge-model needs --judge URL (e.g. --judge http://127.0.0.1:8000/v1 --judge-model qwen3-32b)")
        return None
    endpoint = EndpointSettings(api_key_env=args.judge_api_key_env, concurrency=args.judge_concurrency,
                                timeout_s=args.judge_timeout, retries=args.judge_retries, backoff_s=args.judge_backoff)
    return JudgeOptions(url=args.judge, model=args.judge_model, endpoint=endpoint,
                        max_tokens=args.judge_max_tokens, cache_dir=args.judge_cache).check()


def cmd_run(args, console: Console) -> int:
    from harness.models.generation_settings import parse_cli_overrides
    from harness.io.includes import include_dirs
    from harness.app.run import RunRequest, run_suite

    if args.resume:
        _refuse_flags_with_resume(args)
        _require_trackers(args)
        console = _json_console(args, console)
        run = run_suite(RunRequest(suite=args.suite, ckpt=""), resume=args.resume, console=console)
        _report_to(args, run, console)
        _require_judgments(run, args.allow_unscored_judge)
        return _print_json(args, run)
    _require_trackers(args)
    if not args.ckpt:
        raise HarnessError("harness run needs --ckpt (or --resume RUN_DIR); e.g. --ckpt smollm2-135m-instruct")
    if args.batch_size < 1:
        raise HarnessError("--batch-size must be >= 1")
    request = RunRequest(
        suite=args.suite, ckpt=args.ckpt, base=args.base, no_base=args.no_base, tasks=args.tasks,
        data=_data_overrides(args.suite, args.data), gen=parse_cli_overrides(args.gen),
        batch_size=args.batch_size, trust_remote_code=args.trust_remote_code, runs_dir=args.runs_dir,
        model_name=args.model_name, backend=args.backend, judge=_judge_options(args), load=_load_options(args),
        limit=_limits(args.limit), includes=[str(d) for d in include_dirs()],
        requests=_request_options(args), engine=_vllm_options(args),
    )
    console = _json_console(args, console)
    run = run_suite(request, console=console)
    _report_to(args, run, console)
    _require_judgments(run, args.allow_unscored_judge)
    return _print_json(args, run)


def _require_judgments(run, allowed: bool) -> None:
    """A judged run in which not one judgment worked fails (its judge metrics say nothing), unless
    --allow-unscored-judge; the run directory is kept either way."""
    from judges.summary import all_unscored

    what = all_unscored(run.judgments())
    if what and not allowed:
        raise HarnessError(f"every judgment of {run.path} is unscored ({what}); the run directory is kept: fix the "
                           f"judge and finish with `harness run --resume {run.path}` (it judges only what failed), or "
                           "pass --allow-unscored-judge to accept a run without judge scores")


def _require_trackers(args) -> None:
    if args.report_to:
        from harness.view.trackers import require

        require(args.report_to)


def _report_to(args, run, console: Console) -> None:
    from harness.app.view import report_run

    report_run(run.path, list(dict.fromkeys(args.report_to)), console)


def _add_json_flag(p, what: str = "run_dir, summary") -> None:
    p.add_argument("--json", action="store_true",
                   help=f"print one JSON object on stdout ({what}) for scripts; everything else goes to stderr")


def _json_console(args, console: Console) -> Console:
    """With --json, stdout holds only the JSON; tables and progress go to stderr."""
    return Console(stderr=True, width=console.width, quiet=console.quiet) if args.json else console


def _print_json(args, run) -> int:
    if args.json:
        print(json.dumps({"run_dir": str(run.path), "summary": run.summary()}, ensure_ascii=False))
    return 0


def _add_rescore(sub) -> None:
    p = sub.add_parser("rescore", help="score a finished run's answers again with today's scorers (no model loaded)")
    p.add_argument("run", help="run directory (-> a new run directory) or baseline file (-> --out FILE)")
    p.add_argument("--task", action="append", dest="tasks", help="rescore only this task (repeatable); the rest is copied")
    p.add_argument("--scorer", action="append", dest="scorers", help="rescore only this scorer, by id or name (repeatable)")
    p.add_argument("--runs-dir", help="where the new run directory goes (default: beside the old one)")
    p.add_argument("--out", help="with a baseline file: the new baseline file to write")
    _add_json_flag(p, "run_dir, summary; for a baseline file: baseline, metrics")
    _add_judge_flags(p)


def cmd_rescore(args, console: Console) -> int:
    from harness.app.rescore import rescore
    from harness.rundir import RunDir

    console = _json_console(args, console)
    out = rescore(args.run, tasks=args.tasks, scorers=args.scorers, judge=_judge_options(args), runs_dir=args.runs_dir,
                  out=args.out, console=console)
    console.print(f"rescored: [bold]{out}[/bold]  (compare with: harness compare {args.run} {out})")
    if args.json and out.is_file():  # a rescored baseline file
        metrics = json.loads(out.read_text(encoding="utf-8"))["metrics"]
        print(json.dumps({"baseline": str(out), "metrics": metrics}, ensure_ascii=False))
        return 0
    return _print_json(args, RunDir(out))


def _data_overrides(suite_name: str, items: list[str]) -> dict[str, str]:
    from harness.suite import load_suite

    out = {}
    for item in items:
        task, sep, path = item.partition("=")
        if sep:
            out[task] = path
            continue
        suite = load_suite(suite_name)
        ll = [t.name for t in suite.tasks.values() if t.kind == "loglikelihood"]
        if len(ll) != 1:
            raise HarnessError(f"--data {item}: say which task, as --data TASK={item} (tasks: {', '.join(suite.tasks)})")
        out[ll[0]] = item
    for path in out.values():
        if not os.path.isfile(path):
            raise HarnessError(f"--data: file not found: {path}")
    return out


def _add_suites(sub) -> None:
    sub.add_parser("suites", help="list suites, their tasks and metrics")


def cmd_suites(args, console: Console) -> int:
    from rich.table import Table

    from harness.suite import list_suites, load_suite

    table = Table(title="suites")
    for col in ("suite", "task", "kind", "samples", "metrics"):
        table.add_column(col)
    for path in list_suites():
        suite = load_suite(str(path))
        plain = {m.name for m in suite.metric_definitions()}
        for task in suite.tasks.values():
            metrics = ", ".join(m.short for m in task.metrics if m.name in plain)
            judged = ", ".join(m.short for m in task.metrics if m.name not in plain)
            metrics += f"{'; ' if metrics else ''}with --judge: {judged}" if judged else ""
            table.add_row(suite.name, task.name, task.kind, str(len(task.samples)), metrics)
        for m in suite.pooled:
            table.add_row(suite.name, m.name.split("/")[0], "pooled", "all answers", m.short)
    console.print(table)
    return 0


def _add_score(sub) -> None:
    p = sub.add_parser("score", help="score answers produced elsewhere (JSONL: id or prompt, response)")
    p.add_argument("--suite", default="lab1", help="suite name or YAML path (default: lab1)")
    p.add_argument("--task", required=True, help="the generate task whose scorers score the answers, e.g. safety")
    p.add_argument("--responses", required=True, help="JSONL rows: {id|prompt, response[, finish_reason, fields]}")
    p.add_argument("--name", help="model name to record (default: external:<file>)")
    p.add_argument("--runs-dir", default="runs", help="where the run directory is created (default: runs)")
    _add_json_flag(p)


def cmd_score(args, console: Console) -> int:
    from harness.app.score_answers import score_responses

    console = _json_console(args, console)
    run = score_responses(args.suite, args.task, args.responses, runs_dir=args.runs_dir, name=args.name, console=console)
    return _print_json(args, run)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="QLoRA training; every saved checkpoint is rescored")
    p.add_argument("--config", help="training config YAML (see trainers/configs/)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. lora.r=8, or set any TRL SFTConfig field, e.g. max_grad_norm=0.3")
    p.add_argument("--rescore", metavar="SUITE", help="suite to rescore checkpoints with ('none' to skip); default: the config's")
    p.add_argument("--rescore-backend", choices=["hf", "vllm"],
                   help="hf: the trainer's model in process (default); vllm: one vLLM engine, each checkpoint loaded into it")
    p.add_argument("--resume-from-checkpoint", nargs="?", const=True, metavar="CHECKPOINT_DIR",
                   help="resume training (weights, optimizer, scheduler, data order) from a checkpoint; "
                        "without a value: the last complete checkpoint-<step> in output_dir")
    p.add_argument("--resume", dest="resume_from_checkpoint", action="store_const", const=True,
                   help="continue a killed run from the last complete checkpoint in output_dir (checkpoints already "
                        "in scores.jsonl are not rescored)")


def cmd_train(args, console: Console) -> int:
    from harness.app.training import run_training
    from trainers.config import load_train_config

    config = load_train_config(args.config, args.set)
    if args.resume_from_checkpoint:
        config.resume_from_checkpoint = args.resume_from_checkpoint
    if args.rescore:
        config.rescore.suite = None if args.rescore == "none" else args.rescore
    if args.rescore_backend:
        config.rescore.backend = args.rescore_backend
    run_training(config, console)
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="the whole loop on the bundled model, on CPU: train, rescore, the graded lab report")
    p.add_argument("--output-dir", default="out/demo",
                   help="where the checkpoints, their scores, the final run and the lab report go (default: out/demo)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key of the demo config")


def cmd_demo(args, console: Console) -> int:
    from harness.app.training import run_training
    from trainers.config import load_train_config
    from trainers.demo import DEMO_CONFIG

    config = load_train_config(str(DEMO_CONFIG), [f"output_dir={args.output_dir}", *args.set])
    run_training(config, console)
    if config.rescore.suite and config.rescore.final:  # the lab report of its own run (no sweep: it would double the time)
        from harness.app.lab_report import make_lab_report

        console.rule("lab report")
        make_lab_report(lab="lab1", rubric_path=None, train=config.output_dir, run=None, sweep=None,
                        out=str(Path(config.output_dir) / "report"), console=console)
    return 0


def _add_sweep(sub) -> None:
    p = sub.add_parser("sweep", help="hyperparameter sweep: variants of a training config, each trained and rescored, ranked with CIs")
    p.add_argument("--config", required=True, help="the base training config YAML")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key for every variant")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="sweep a key over values (repeatable: every combination), e.g. --grid learning_rate=2e-5,2e-4")
    p.add_argument("--variant", action="append", default=[], metavar="KEY=V[,KEY=V]",
                   help="one variant, e.g. --variant lora.r=8,lora.alpha=16 (repeatable; the first is the reference)")
    p.add_argument("--plan", choices=["staged"],
                   help="staged: one parameter at a time, each stage keeping the earlier winners (learning rate, "
                        "epochs, LoRA rank with alpha = 2 x rank, effective batch; or the --grid keys in order)")
    p.add_argument("--metric", default="val_loss",
                   help="ranks variants and picks stage winners: val_loss (default; ln perplexity on held-out "
                        "conversations, with a CI), eval_loss (the trainer's), or a final-run metric like format/json_validity_strict")
    p.add_argument("--smoke", action="store_true", help="first train every variant a few steps; stop one whose loss does not fall")
    p.add_argument("--smoke-steps", type=int, metavar="N", help="steps of the smoke test (default: 100)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (variants, configs, output dirs, est. time); run nothing")
    p.add_argument("--step-seconds", type=float, metavar="S", help="for --dry-run's time estimate before any variant ran here")
    p.add_argument("--out", help="sweep directory (default: sweeps/<config>-<swept keys>); the same command resumes it")


def cmd_sweep(args, console: Console) -> int:
    from harness.app.sweep import run_sweep

    run_sweep(config=args.config, sets=args.set, grid=args.grid, variants=args.variant, staged=args.plan == "staged",
              metric=args.metric, smoke=args.smoke, smoke_steps=args.smoke_steps, out=args.out, dry_run=args.dry_run,
              step_seconds=args.step_seconds, console=console)
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="graded lab report: report.md, a self-contained report.html, plots and the grade")
    p.add_argument("--lab", default="lab1", help="the lab (its built-in rubric; default: lab1)")
    p.add_argument("--train", metavar="DIR", help="training output directory (harness train / demo); its final run is the scored run")
    p.add_argument("--run", metavar="RUN_DIR", help="the scored run of the fine-tuned adapter, if not the training's own final run "
                                                    "(e.g. one made with --judge)")
    p.add_argument("--sweep", metavar="DIR", help="sweep directory (harness sweep --out) for the hyperparameter experiment")
    p.add_argument("--out", required=True, help="report folder; made again, it keeps the written analysis already in its report.md")
    p.add_argument("--rubric", metavar="FILE.yaml", help="an instructor's rubric instead of the lab's default")
    p.add_argument("--analysis", metavar="FILE.md", help="the written analysis: a heading per rubric item with the answer under it")
    _add_judge_flags(p)


def cmd_report(args, console: Console) -> int:
    from harness.app.lab_report import make_lab_report

    make_lab_report(lab=args.lab, rubric_path=args.rubric, train=args.train, run=args.run, sweep=args.sweep, out=args.out,
                    judge=_judge_options(args), analysis=args.analysis, console=console)
    return 0


def _add_grade(sub) -> None:
    p = sub.add_parser("grade", help="re-grade a handed-in lab report folder from its evidence (exit 1 if a graded file "
                                     "changed); with --class, every submission of a class and a roster")
    p.add_argument("folder", help="the report folder (harness report --out); with --class, the folder holding one report "
                                  "folder, .zip or .tar.gz per student (its name is the student id)")
    p.add_argument("--rubric", metavar="FILE.yaml", help="grade with this rubric instead of the one the report names "
                                                         "(with --class: instead of lab1)")
    g = p.add_argument_group("a whole class (docs/lab-report.md)")
    g.add_argument("--class", dest="whole_class", action="store_true",
                   help="grade every submission in FOLDER; write grades.csv, roster.md and roster.html; "
                        "exit 1 when a submission was not graded, had changed evidence or was flagged")
    g.add_argument("--out", help="with --class: the roster folder (default: FOLDER-roster beside FOLDER); the same "
                                 "command resumes it")
    g.add_argument("--jobs", type=int, help="with --class: submissions graded at once, in processes (threads with --judge: "
                                            "mostly waiting for replies, so go higher) (default: the CPU count, at most 4)")
    _add_judge_flags(p)


def cmd_grade(args, console: Console) -> int:
    if args.whole_class:
        from harness.app.class_grading import DEFAULT_JOBS, grade_class

        result = grade_class(args.folder, out=args.out, rubric_path=args.rubric, judge=_judge_options(args),
                             jobs=DEFAULT_JOBS if args.jobs is None else args.jobs, console=console)
        return 1 if result.roster.needs_a_person() else 0
    if args.out or args.jobs is not None:
        raise HarnessError("--out and --jobs are for a whole class: harness grade CLASS_DIR --class --out ROSTER_DIR")
    from harness.app.lab_report import regrade

    _, tamper = regrade(args.folder, rubric_path=args.rubric, judge=_judge_options(args), console=console)
    return 1 if any(tamper.values()) else 0


def _add_mask_audit(sub) -> None:
    p = sub.add_parser("mask-audit", help="show which tokens SFT would train on, and check the mask")
    p.add_argument("--data", required=True, help="messages JSONL")
    p.add_argument("--model", default="smollm2-135m-instruct", help="model or checkpoint whose chat template is used")
    p.add_argument("--examples", type=int, default=200, help="how many conversations to audit")


def cmd_mask_audit(args, console: Console) -> int:
    from harness.models.backends.hf import end_of_turn_ids, load_tokenizer
    from harness.models.chat_template import training_chat_template
    from harness.models.checkpoint import resolve_checkpoint
    from trainers.conversations import load_conversations
    from harness.models.mask_audit import audit_mask, render_example, summary_lines

    ckpt = resolve_checkpoint(args.model)
    tok = load_tokenizer(ckpt)
    template = training_chat_template(tok, ckpt.spec)
    convs = load_conversations(args.data)
    report = audit_mask(tok, convs[: args.examples], template, end_of_turn_ids(tok))
    console.print("[bold]first example[/bold] (trained tokens highlighted):")
    console.print(render_example(tok, convs[0], template))
    for line in summary_lines(report):
        console.print(line, highlight=False)
    return 0 if report.ok else 1


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="build a training mix from a recipe, or check a training file")
    data = p.add_subparsers(dest="data_command", required=True)
    b = data.add_parser("build", help="sources -> normalized -> dedup -> mix -> split -> export (docs/data.md)")
    b.add_argument("recipe", help="recipe YAML")
    b.add_argument("--out", help="output directory (default: the recipe's output.dir, else data/<recipe name>)")
    c = data.add_parser("check", help="schema, chat template, mask audit and token lengths of a messages JSONL")
    c.add_argument("data", help="messages JSONL, or a `harness data build` output directory")
    c.add_argument("--model", default="smollm2-135m-instruct", help="model or checkpoint whose chat template is used")
    c.add_argument("--max-length", type=int, default=2048, help="training max_length to measure truncation against (default: 2048)")
    c.add_argument("--examples", type=int, default=200, help="conversations in the mask audit (default: 200)")


def cmd_data(args, console: Console) -> int:
    if args.data_command == "build":
        from datapipe.build import build
        from datapipe.recipe import load_recipe
        from reports.data_tables import print_build

        recipe = load_recipe(args.recipe)
        out = Path(args.out) if args.out else (recipe.output.dir or Path("data") / recipe.name)
        report = build(recipe, out, log=lambda line: console.print(f"[dim]{line}[/dim]", highlight=False))
        print_build(report, str(out), console)
        return 0
    from datapipe.check import check
    from harness.models.backends.hf import end_of_turn_ids, load_tokenizer
    from harness.models.chat_template import training_chat_template
    from harness.models.checkpoint import resolve_checkpoint
    from reports.data_tables import print_check

    if args.max_length < 1 or args.examples < 1:
        raise HarnessError("--max-length and --examples must be >= 1")
    ckpt = resolve_checkpoint(args.model)
    tok = load_tokenizer(ckpt)
    template = training_chat_template(tok, ckpt.spec)
    report = check(args.data, tok, template, end_of_turn_ids(tok), max_length=args.max_length, audit_examples=args.examples)
    print_check(report, console)
    return 0 if report.ok else 1


def _add_watch(sub) -> None:
    p = sub.add_parser("watch", help="rescore each checkpoint directory that appears (from any trainer)")
    p.add_argument("directory", help="the training output directory to watch (its checkpoint-*/ folders)")
    p.add_argument("--suite", default="lab1", help="suite to rescore each checkpoint with (default: lab1)")
    p.add_argument("--task", action="append", dest="tasks", help="only these tasks (repeatable)")
    p.add_argument("--max-samples", type=int, help="per task, samples spread over the file")
    p.add_argument("--gen", action="append", default=[], metavar="KEY=VALUE", help="generation setting for every task, e.g. --gen max_new_tokens=64")
    p.add_argument("--base", help="base model of the adapters (overrides adapter_config.json)")
    p.add_argument("--once", action="store_true", help="one pass over what is there, then exit")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between scans")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")
    p.add_argument("--backend", choices=["hf", "vllm"], default="hf",
                   help="hf (default): the base loaded here once; vllm: one vLLM engine, each adapter loaded into it at run time")
    _add_vllm_flags(p)


def cmd_watch(args, console: Console) -> int:
    from harness.models.generation_settings import parse_cli_overrides
    from harness.app.checkpoint_scores import Rescorer
    from harness.app.watch import watch

    rescorer = Rescorer(Path(args.directory), args.suite, tasks=args.tasks, max_samples=args.max_samples,
                        gen=parse_cli_overrides(args.gen), console=console)
    rescorer.load(full=False)
    engine = _vllm_options(args)
    if engine and args.backend != "vllm":
        raise HarnessError("--vllm / --vllm-python: only with --backend vllm")
    n = watch(args.directory, rescorer, base=args.base, once=args.once, interval=args.interval,
              timeout=args.timeout, console=console, backend_name=args.backend,
              backend_options={"settings": engine} if args.backend == "vllm" else {})
    console.print(f"scored {n} new checkpoint(s); scores in {Path(args.directory) / 'scores.jsonl'}")
    return 0


ROLES = ("base", "ckpt")


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="paired comparison of two runs (or baseline files) on the samples both share")
    p.add_argument("a", help="run directory or baseline file: the reference")
    p.add_argument("b", help="run directory or baseline file: compared with A (deltas are B - A)")
    p.add_argument("--role", choices=ROLES, default="ckpt", help="which model of each run (default: ckpt)")
    p.add_argument("--max-flips", type=int, default=20, help="flipped samples listed per metric (default: 20)")
    p.add_argument("--out", metavar="FILE", help="also write the comparison as Markdown (e.g. report.md); never overwritten")
    _add_allow_different(p)


def _add_allow_different(p) -> None:
    p.add_argument("--allow-different", action="append", default=[], metavar="KEY",
                   choices=["generation", "chat_template", "engine", "judge_model"],
                   help="compare even though the runs were made with different generation settings, chat templates, "
                        "engines (backend and its settings) or judge models (refused by default); the report states the difference (repeatable)")


def cmd_compare(args, console: Console) -> int:
    from harness.results.compare import compare
    from harness.results.baseline import load_snapshot
    from reports.comparison import print_comparison

    if args.max_flips < 0:
        raise HarnessError(f"--max-flips must be >= 0, got {args.max_flips}")
    if args.out and Path(args.out).exists():
        raise HarnessError(f"--out {args.out}: the file exists; give a new file name (nothing was overwritten)")
    comparison = compare(load_snapshot(args.a), load_snapshot(args.b), args.role, frozenset(args.allow_different))
    print_comparison(comparison, console, max_flips=args.max_flips)
    if args.out:
        from harness.io.writes import atomic_write_text
        from reports.comparison_markdown import comparison_markdown

        atomic_write_text(Path(args.out), comparison_markdown(comparison, args.max_flips))
        console.print(f"Markdown: [bold]{args.out}[/bold]")
    return 0


def _add_view(sub) -> None:
    p = sub.add_parser("view", help="look at runs, comparisons, training, sweeps and lab reports in a browser (read-only)")
    p.add_argument("dirs", nargs="*", default=["runs"], metavar="DIR",
                   help="folders holding run directories, training directories, sweeps, lab reports (default: runs)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default: 8765)")
    p.add_argument("--allow-remote", action="store_true", help="needed with a --host other than this machine's own")
    p.add_argument("--export", metavar="FILE.html",
                   help="write one self-contained page instead: of a run (one DIR) or a comparison (two DIRs, A B)")
    p.add_argument("--role", choices=ROLES, default="ckpt", help="with --export of two runs: which model is compared (default: ckpt)")


def cmd_view(args, console: Console) -> int:
    from harness.app.view import export_view, serve_view

    if args.export:
        export_view(args.dirs, args.export, role=args.role, console=console)
        return 0
    serve_view(args.dirs, host=args.host, port=args.port, allow_remote=args.allow_remote, console=console)
    return 0


def _add_baseline(sub) -> None:
    p = sub.add_parser("baseline", help="baseline files: a finished run in one JSON file, to gate later runs against")
    actions = p.add_subparsers(dest="baseline_command", required=True)
    save = actions.add_parser("save", help="save a finished run as a baseline file")
    save.add_argument("run", help="run directory")
    save.add_argument("--out", required=True, help="baseline file to write, e.g. baselines/lab1.json")


def cmd_baseline(args, console: Console) -> int:
    from harness.results.baseline import save_baseline

    out = save_baseline(args.run, args.out)
    console.print(f"Baseline of {args.run} written to [bold]{out}[/bold]")
    return 0


def _add_gate(sub) -> None:
    p = sub.add_parser("gate", help="check a run against a policy and a baseline; exit 0 pass, 1 regression, 2 usage, 3 internal error",
                       description="Check a run against a policy and a baseline. Metrics of tasks the run did not\n"
                                   "run (--task) are not gated; the output lists them.\n\n"
                                   "exit codes: 0 every gated metric passed, 1 a regression (or a metric missing from\n"
                                   "a task that ran), 2 usage error (bad policy or baseline, runs not comparable),\n"
                                   "3 internal error (a bug; not a verdict on the model)")
    p.add_argument("run", help="the run to gate: a run directory (or a baseline file)")
    p.add_argument("--baseline", help="baseline file from `harness baseline save` (or a run directory)")
    p.add_argument("--policy", help="gate policy YAML (default: the suite's own, suites/policies/<suite>.yaml)")
    p.add_argument("--role", choices=ROLES, default="ckpt", help="which model is gated (default: ckpt)")
    p.add_argument("--junit", help="JUnit XML to write (default: gate-junit.xml in the run directory)")
    p.add_argument("--summary", help="Markdown summary to write (default: gate-summary.md in the run directory)")
    _add_allow_different(p)


def cmd_gate(args, console: Console) -> int:
    from harness.results.gate import run_gate
    from harness.results.policy import default_policy_path, load_policy
    from harness.results.baseline import load_snapshot
    from reports.gate_markdown import render_gate_markdown
    from reports.gate_terminal import print_gate
    from reports.junit import render_junit

    run = load_snapshot(args.run)
    policy = load_policy(args.policy or default_policy_path(run.suite_name), list(run.definitions), run.suite_name)
    baseline = load_snapshot(args.baseline) if args.baseline else None
    result = run_gate(run, policy, baseline, args.role, frozenset(args.allow_different))
    print_gate(result, console)
    out_dir = Path(args.run) if Path(args.run).is_dir() else Path(".")
    for path, text in ((args.junit or out_dir / "gate-junit.xml", render_junit(result)),
                       (args.summary or out_dir / "gate-summary.md", render_gate_markdown(result))):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    return result.exit_code


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="serve a model or adapter over an OpenAI-compatible API (chat, completions, streaming; docs/serve.md)")
    p.add_argument("--model", required=True, help="what --ckpt of harness run takes: model dir, adapter dir, hub id, alias")
    p.add_argument("--base", help="base model of an adapter (overrides adapter_config.json)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--model-name", help="the model id clients name (default: --model as typed)")
    p.add_argument("--gen", action="append", default=[], metavar="KEY=VALUE", help="default generation settings (requests override)")
    p.add_argument("--max-batch-size", type=int, default=8, help="requests generated together (default: 8)")
    p.add_argument("--api-key-env", metavar="VAR", help="require clients to send the key held in this environment variable")
    p.add_argument("--trust-remote-code", action="store_true", help="allow model code from the checkpoint (off by default)")


def cmd_serve(args, console: Console) -> int:
    from harness.models.backends import make_backend
    from harness.models.checkpoint import resolve_checkpoint
    from harness.models.generation_settings import GenerationSettings, parse_cli_overrides
    from harness.serve.app import LOOPBACK, build_app, serve_forever

    if not 0 <= args.port < 65536:
        raise HarnessError(f"--port {args.port}: must be 0-65535")
    if args.max_batch_size < 1:
        raise HarnessError("--max-batch-size must be >= 1")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise HarnessError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
    defaults = GenerationSettings().updated(parse_cli_overrides(args.gen), "--gen")
    ckpt = resolve_checkpoint(args.model, base=args.base, trust_remote_code=args.trust_remote_code)
    name = args.model_name or args.model
    app = build_app(make_backend(ckpt), name, defaults=defaults, api_key=api_key, max_batch_size=args.max_batch_size)
    if args.host != LOOPBACK:
        console.print(f"[yellow]listening on {args.host}: other machines can reach this server"
                      f"{'' if api_key else ' (no --api-key-env: anyone can use it)'}[/yellow]")
    console.print(f"Serving [bold]{name}[/bold] at http://{args.host}:{args.port}/v1  (Ctrl-C stops)")
    serve_forever(app, args.host, args.port)
    return 0


def _add_chat(sub) -> None:
    p = sub.add_parser("chat", help="multi-turn chat with a checkpoint (reads stdin; /reset, /exit)")
    p.add_argument("--ckpt", required=True, help="model dir, adapter dir, hub id, alias, or http://HOST:PORT/v1 with --model-name")
    p.add_argument("--base", help="base model of an adapter")
    p.add_argument("--model-name", help="with --ckpt URL: the served model's id")
    p.add_argument("--role", choices=["ckpt", "base"], default="ckpt", help="base: an adapter's base model (adapter off)")
    p.add_argument("--system", help="system prompt kept across /reset")
    p.add_argument("--gen", action="append", default=[], metavar="KEY=VALUE",
                   help="generation settings (chat defaults: temperature 0.95, top_k 20, top_p 0.85, repetition_penalty 1.2, "
                        "max_new_tokens 1024; --gen temperature=0 for greedy)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow model code from the checkpoint (off by default)")


def cmd_chat(args, console: Console) -> int:
    from harness.app.chat import chat_loop, chat_settings
    from harness.models.generation_settings import parse_cli_overrides
    from harness.models.backends import make_backend
    from harness.models.checkpoint import resolve_model

    settings = chat_settings(parse_cli_overrides(args.gen))
    ckpt = resolve_model(args.ckpt, base=args.base, model_name=args.model_name, trust_remote_code=args.trust_remote_code)
    if args.role == "base" and not ckpt.has_base:
        raise HarnessError(f"--role base: {args.ckpt} is not an adapter, so there is no separate base to talk to")
    chat_loop(make_backend(ckpt), settings, system=args.system, role=args.role)
    return 0


def _add_merge(sub) -> None:
    p = sub.add_parser("merge", help="merge a LoRA adapter into its unquantized base and save model + tokenizer")
    p.add_argument("--ckpt", required=True, help="the adapter directory")
    p.add_argument("--out", required=True, help="new (or empty) directory for the merged model")
    p.add_argument("--base", help="the unquantized base (overrides adapter_config.json)")
    p.add_argument("--dtype", default="bf16", help="bf16 (default), fp16 or fp32; also spelled bfloat16, float16, "
                   "float32, as `harness run --dtype` takes them")
    p.add_argument("--trust-remote-code", action="store_true", help="allow model code from the checkpoint (off by default)")


def cmd_merge(args, console: Console) -> int:
    from harness.app.merge import merge_adapter

    out = merge_adapter(args.ckpt, args.out, base=args.base, dtype=args.dtype,
                        trust_remote_code=args.trust_remote_code, console=console)
    console.print(f"Merged model saved to [bold]{out}[/bold]; score it with: harness run --ckpt {out} --no-base")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="merge a LoRA adapter and write one GGUF file (llama.cpp, Ollama) with tokenizer and chat template")
    p.add_argument("--ckpt", required=True, help="the adapter directory (or a model directory)")
    p.add_argument("--gguf", required=True, choices=["f16", "q8_0", "q4_k_m"],
                   help="f16 (the reference), q8_0 (about half the size) or q4_k_m (needs llama.cpp's llama-quantize)")
    p.add_argument("--out", help="the .gguf file to write (default: <ckpt name>-<type>.gguf here); never overwritten")
    p.add_argument("--base", help="the unquantized base (overrides adapter_config.json)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow model code from the checkpoint (off by default)")


def cmd_export(args, console: Console) -> int:
    from harness.app.export import export_gguf

    done = export_gguf(args.ckpt, args.gguf, args.out, base=args.base, trust_remote_code=args.trust_remote_code,
                       console=console)
    types = ", ".join(f"{n} {k}" for k, n in sorted(done.tensor_types.items()))
    console.print(f"Wrote [bold]{done.path}[/bold] ({done.n_bytes / 2**20:.1f} MiB, GGUF {done.gguf_type}"
                  f"{'; tensors: ' + types if types else ''})", highlight=False)
    console.print(f"What it cost: harness run --ckpt {done.path} --suite SUITE, then harness compare "
                  "<the adapter's run> <that run> (docs/export.md)", highlight=False)
    return 0


def _add_judge_agreement(sub) -> None:
    p = sub.add_parser("judge-agreement", help="Cohen's kappa and raw agreement between two verdict files")
    p.add_argument("a", help="a run dir or its judge.jsonl, or a human-labelled JSONL file")
    p.add_argument("b", help="the same, for the other judge")


def cmd_judge_agreement(args, console: Console) -> int:
    from rich.table import Table

    from judges.agreement import compare_files

    result = compare_files(args.a, args.b)
    table = Table(title=f"agreement: {args.a} vs {args.b}")
    for col in ("kind", "n", "raw agreement [95% CI]", "Cohen's kappa [95% CI]"):
        table.add_column(col)
    for kind, s in result["kinds"].items():
        lo, hi = s["agreement_ci"]
        kappa = "undefined (one label only)" if s["kappa"] is None else f"{s['kappa']:.3f}"
        if s["kappa_ci"]:
            kappa += f" [{s['kappa_ci'][0]:.3f}, {s['kappa_ci'][1]:.3f}]"
        table.add_row(kind, str(s["n"]), f"{s['agreement']:.3f} [{lo:.3f}, {hi:.3f}]", kappa)
    console.print(table)
    console.print(f"items only in A: {result['only_a']}, only in B: {result['only_b']}; "
                  f"unscored in A: {result['unscored_a']}, in B: {result['unscored_b']}")
    return 0


COMMANDS = {
    "run": (_add_run, cmd_run),
    "suites": (_add_suites, cmd_suites),
    "score": (_add_score, cmd_score),
    "rescore": (_add_rescore, cmd_rescore),
    "compare": (_add_compare, cmd_compare),
    "view": (_add_view, cmd_view),
    "baseline": (_add_baseline, cmd_baseline),
    "gate": (_add_gate, cmd_gate),
    "train": (_add_train, cmd_train),
    "demo": (_add_demo, cmd_demo),
    "sweep": (_add_sweep, cmd_sweep),
    "report": (_add_report, cmd_report),
    "grade": (_add_grade, cmd_grade),
    "mask-audit": (_add_mask_audit, cmd_mask_audit),
    "data": (_add_data, cmd_data),
    "watch": (_add_watch, cmd_watch),
    "serve": (_add_serve, cmd_serve),
    "chat": (_add_chat, cmd_chat),
    "merge": (_add_merge, cmd_merge),
    "export": (_add_export, cmd_export),
    "judge-agreement": (_add_judge_agreement, cmd_judge_agreement),
}


def _quiet_libraries() -> None:
    """Our Rich progress bars say what is happening; the libraries' own bars and notices would
    interleave with them on every model load."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if not os.environ.get("TRANSFORMERS_VERBOSITY"):  # the user's choice wins (e.g. =info to debug a load)
        hf_logging.set_verbosity_error()
    # bitsandbytes, on a CPU with AVX512-BF16, tries at import to fetch an optional faster 4-bit
    # kernel from the Hugging Face hub ("kernels" package) and logs a warning on every command when
    # it cannot; its own CPU kernel is used instead, which is all a CPU run needs.
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_drop_optional_kernel_notice)


def _drop_optional_kernel_notice(record: logging.LogRecord) -> bool:
    return "gemm_4bit_forward from kernels-community" not in record.getMessage()


def _show_harness_warnings() -> None:
    """HarnessWarnings (a repaired torn line, ...) as one `warning:` line on stderr; others as usual."""
    import warnings

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, HarnessWarning):
            Console(stderr=True).print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _limits(items: list[str]) -> dict[str, int | float]:
    """--limit N / --limit TASK=N -> {"*": N, TASK: N}; N a whole number >= 1 (samples) or a
    fraction 0 < N < 1 of each task's samples (as lm-eval's --limit)."""
    out: dict[str, int | float] = {}
    for item in items:
        task, _, n = item.rpartition("=")
        try:
            value = float(n)
        except ValueError:
            value = 0.0
        if n.isdigit() and int(n) >= 1:
            out[task or "*"] = int(n)
        elif 0 < value < 1:
            out[task or "*"] = value
        else:
            raise HarnessError(f"--limit {item}: give a whole number >= 1 (samples per task), a fraction between 0 and 1 "
                               "(of each task's samples), or TASK=N (e.g. --limit 5, --limit 0.1 or --limit safety=10)")
    return out


def _refuse_flags_with_resume(args) -> None:
    """--resume re-runs the recorded invocation exactly; a flag that would be ignored is refused."""
    defaults = vars(build_parser().parse_args(["run"]))
    given = [k for k, v in vars(args).items()
             if k not in ("command", "resume", "verbose", "quiet", "json", "include", "report_to", "allow_unscored_judge")
             and v != defaults.get(k)]
    if given:
        flags = ", ".join("--" + k.replace("_", "-").removesuffix("s") if k == "tasks" else "--" + k.replace("_", "-")
                          for k in given)
        raise HarnessError(f"--resume {args.resume} re-runs the run exactly as its config.json records it, so {flags} "
                           "would be ignored: drop them, or start a new run to change them")


# One example per subcommand, shown at the end of its --help.
EXAMPLES = {
    "run": "harness run --suite lab1 --ckpt out/lab1/final          # an adapter and its base\n"
           "harness run --ckpt smollm2-135m-instruct --task format --limit 5",
    "suites": "harness suites",
    "score": "harness score --suite lab1 --task safety --responses answers.jsonl",
    "rescore": "harness rescore runs/<run-dir>",
    "compare": "harness compare runs/A runs/B --max-flips 5",
    "view": "harness view runs/ out/    # then open http://127.0.0.1:8765/\n"
            "harness view runs/A runs/B --export compare.html",
    "baseline": "harness baseline save runs/A --out baselines/lab1.json",
    "gate": "harness gate runs/B --baseline baselines/lab1.json --policy suites/policies/lab1.yaml",
    "train": "harness train --config configs/lab1-qlora.yaml --set learning_rate=2e-4 --set lora.r=8",
    "demo": "harness demo --output-dir out/demo",
    "sweep": "harness sweep --config configs/lab1-qlora.yaml --grid learning_rate=2e-5,2e-4 --out sweeps/lr",
    "report": "harness report --lab lab1 --train out/lab1 --sweep sweeps/lr --out report/",
    "grade": "harness grade report/\n"
             "harness grade submissions/ --class --out roster/ --jobs 4     # a whole class: grades.csv, roster.md, roster.html",
    "mask-audit": "harness mask-audit --data train.jsonl --model smollm2-135m-instruct",
    "data": "harness data build recipes/lab1-mix.yaml",
    "watch": "harness watch out/lab1 --suite lab1",
    "serve": "harness serve --model out/lab1/final --port 8000",
    "chat": "harness chat --ckpt out/lab1/final",
    "merge": "harness merge --ckpt out/lab1/final --out merged/",
    "export": "harness export --ckpt out/lab1/final --gguf q8_0 --out model-q8_0.gguf",
    "judge-agreement": "harness judge-agreement runs/<run-dir> human_labels.jsonl",
}


def _with_examples(sub) -> None:
    """Each subcommand's --help: its one-line summary as the description, an example at the end."""
    summaries = {action.dest: action.help for action in sub._choices_actions}
    for name, parser in sub.choices.items():
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.description = parser.description or summaries.get(name)
        if name in EXAMPLES:
            parser.epilog = "example:\n  " + EXAMPLES[name].replace("\n", "\n  ")


def build_parser() -> argparse.ArgumentParser:
    from harness import __version__

    parser = argparse.ArgumentParser(prog="harness", description="Evaluation-first harness for QLoRA SFT of chat LLMs",
                                     epilog="exit codes: 0 done / gate passed, 1 gate found a regression, 2 bad input, "
                                            "3 internal error, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"sft-harness {__version__}")
    _add_global_flags(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    _with_examples(sub)
    for p in _subcommand_parsers(parser):  # `harness run ... --quiet` as well as `harness --quiet run ...`
        _add_global_flags(p, top=False)
    return parser


def _add_global_flags(p, top: bool) -> None:
    """--verbose, --quiet, --include: before the subcommand (top) or anywhere after it. A subcommand's
    copies default to nothing (argparse.SUPPRESS), so they never undo what was given before it; its
    --include folders land in `include_after`, added to the others by main."""
    keep = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument("--verbose", action="store_true", help="print the traceback of an internal error", **keep)
    p.add_argument("--quiet", action="store_true", help="print only errors (and --json output)", **keep)
    p.add_argument("--include", action="append", metavar="PATH", dest="include" if top else "include_after",
                   default=[] if top else argparse.SUPPRESS,
                   help="a folder of extensions: suites/*.yaml, scorers/*.py, judges/configs/*.yaml, "
                        "judges/templates/*.md, trainers/*.py (repeatable; also $SFT_HARNESS_INCLUDE)")


def _subcommand_parsers(parser) -> list:
    """Every subcommand's parser, nested ones (`baseline save`, `data check`) included."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for p in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                out += [p, *_subcommand_parsers(p)]
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.include = list(args.include) + list(vars(args).pop("include_after", []))
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _quiet_libraries()
    _show_harness_warnings()
    args = parse_args(argv)
    console = Console(quiet=args.quiet)
    if not console.is_terminal:  # logs and CI: wide enough that metric names are not cut
        console = Console(width=160, quiet=args.quiet)
    try:
        from harness.io.includes import include, include_from_env

        include_from_env()
        for folder in args.include:
            include(folder)
        return COMMANDS[args.command][1](args, console)
    except HarnessError as e:
        Console(stderr=True).print(f"[bold red]error:[/bold red] {e}", highlight=False, soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted; finished samples are saved (use --resume RUN_DIR)")
        return 130
    except Exception as e:  # a bug, not bad input: its own exit code, so CI can tell it from a regression
        return _internal_error(e, args.verbose)


def _internal_error(error: Exception, verbose: bool) -> int:
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(error))
    err = Console(stderr=True)
    first = (str(error).strip().splitlines() or [""])[0][:300]
    if verbose:
        err.print(text, highlight=False, markup=False)
        where = "above"
    else:
        fd, where = tempfile.mkstemp(prefix="sft-harness-traceback-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    err.print(f"[bold red]internal error[/bold red] (a bug in sft-harness or a library, not in your input): "
              f"{type(error).__name__}: {first}; traceback: {where}. Please report it with that traceback.",
              highlight=False, soft_wrap=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":  # an annotation on the job, distinct from a gate's regression
        print(f"::error title=sft-harness internal error::{type(error).__name__}: {first} (exit {EXIT_INTERNAL})")
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
