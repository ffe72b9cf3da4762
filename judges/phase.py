"""The judge phase of `harness run --judge`: after every answer exists, judge the judged tasks.

Pairwise judging needs both roles' answers, so it runs after generation (runner: execute ->
judge_phase -> finish). Each verdict lands

- in samples.jsonl, as scores on the judged record (like any scorer's: value, label, reason;
  unscored with "unscored: parse failure: ..." or "unscored: judge error: ..."), with the raw
  judge replies under the record's `judge` key;
- in judge.jsonl, one line per judgment: the verdict file `harness judge-agreement` reads.

Pairwise: the checkpoint's answer is judged against the base's twice, once in each position
(ckpt_first: A = ckpt; base_first: A = base). The verdict for the checkpoint is win / tie /
loss; when the two orders disagree it is a tie, and swap agreement records whether they agreed.
A judge that is down or keeps failing only leaves its judgments unscored: the phase never raises
for judge trouble, and the report counts errors per task.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.rundir import RunDir
from harness.suite import Suite
from judges.cache import JudgeCache
from judges.client import Judge, JudgeReply
from judges.local import judge_target
from judges.metrics import PAIRWISE, REFUSAL, REFUSAL_AGREEMENT, SWAP, builtin_refusal_scorer, rubric_id
from judges.options import JudgeOptions
from judges.templates import template_for
from judges.verdicts import DIMENSIONS, parse_pairwise, parse_refusal, parse_rubric

ORDERS = ("ckpt_first", "base_first")  # which answer sits in position A
OK, PARSE_FAILURE, JUDGE_ERROR = "ok", "parse_failure", "judge_error"


@dataclass
class Job:
    kind: str  # "rubric" | "refusal" | "pairwise"
    task: str
    id: str
    role: str  # the record the verdict belongs to (pairwise: ckpt)
    order: str | None  # pairwise only
    template: str
    messages: list[dict]


def plan_jobs(suite: Suite, records: list[dict], roles: list[str]) -> tuple[list[Job], list[str]]:
    """Every judge request of the run, and notes on what cannot be judged."""
    jobs, notes = [], []
    answers = {(r["role"], r["task"], r["id"]): r for r in records if "output" in r}
    for task in suite.tasks.values():
        spec = task.judge
        if spec is None:
            continue
        ids = sorted({sid for (_, t, sid) in answers if t == task.name})
        for role in roles:
            for sid in ids:
                r = answers.get((role, task.name, sid))
                if r is None:
                    continue
                for kind, wanted in (("rubric", spec.rubric), ("refusal", spec.refusal)):
                    if wanted:
                        t = template_for(kind, r["prompt"])
                        jobs.append(Job(kind, task.name, sid, role, None, t.name,
                                        t.render(question=r["prompt"], answer=r["output"])))
        if spec.pairwise:
            if not {"base", "ckpt"} <= set(roles):
                notes.append(f"{task.name}: pairwise judging needs base and checkpoint answers "
                             "(an adapter --ckpt without --no-base); skipped")
                continue
            for sid in ids:
                base, ckpt = answers.get(("base", task.name, sid)), answers.get(("ckpt", task.name, sid))
                if base is None or ckpt is None:
                    continue
                t = template_for("pairwise", ckpt["prompt"])
                for order, (a, b) in zip(ORDERS, ((ckpt, base), (base, ckpt))):
                    jobs.append(Job("pairwise", task.name, sid, "ckpt", order, t.name,
                                    t.render(question=ckpt["prompt"], answer_a=a["output"], answer_b=b["output"])))
    return jobs, notes


def judge_phase(run: RunDir, suite: Suite, roles: list[str], options: JudgeOptions, *, console: Console) -> None:
    records = run.records()
    jobs, notes = plan_jobs(suite, records, roles)
    for note in notes:
        console.print(f"[yellow]judge:[/yellow] {note}")
    if not jobs:
        return
    cache = JudgeCache(options.cache_dir)
    with judge_target(options, console) as target:
        judge = Judge(options, target, cache=cache)
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task(f"judge {target.model}", total=len(jobs))
            replies = judge.ask_all([j.messages for j in jobs], on_done=lambda n: progress.advance(bar, n))
    rows = judgments(jobs, replies, target.model)
    apply_judgments(records, rows, suite)
    run.rewrite_records(records)
    run.write_judgments(rows)
    if cache.write_error:
        console.print(f"[yellow]judge cache not written ({cache.write_error}); a rerun will ask the judge again[/yellow]")
    errors = sum(r["status"] == JUDGE_ERROR for r in rows)
    failures = sum(r["status"] == PARSE_FAILURE for r in rows)
    style = "yellow" if errors or failures else "dim"
    console.print(f"[{style}]judge {target.model}: {len(rows)} judgments, {judge.http_requests} requests, "
                  f"{judge.cache_hits} cached, {errors} judge errors, {failures} parse failures[/{style}]")


# ---- replies -> judgments (judge.jsonl rows) ---------------------------------------------------
_PARSERS = {"rubric": parse_rubric, "refusal": parse_refusal, "pairwise": parse_pairwise}


def _exchange(job: Job, reply: JudgeReply) -> dict:
    """One judge request and what came of it."""
    out = {"template": job.template, "raw": reply.text, "cached": reply.cached, "requests": reply.requests}
    if reply.error:
        return out | {"status": JUDGE_ERROR, "verdict": None, "reason": "", "error": reply.error}
    verdict = _PARSERS[job.kind](reply.text)
    if not verdict.ok:
        return out | {"status": PARSE_FAILURE, "verdict": None, "reason": "", "error": verdict.error}
    return out | {"status": OK, "verdict": verdict.value, "reason": verdict.reason, "error": None}


def judgments(jobs: list[Job], replies: list[JudgeReply], judge_model: str) -> list[dict]:
    rows: dict[tuple, dict] = {}
    for job, reply in zip(jobs, replies):
        ex = _exchange(job, reply)
        key = (job.task, job.id, job.role, job.kind)
        if job.kind != "pairwise":
            rows[key] = {"task": job.task, "id": job.id, "role": job.role, "kind": job.kind, "judge": judge_model,
                         **{k: ex[k] for k in ("status", "verdict", "reason", "error", "raw", "template")},
                         "requests": ex["requests"], "cached": int(ex["cached"])}
            continue
        row = rows.setdefault(key, {"task": job.task, "id": job.id, "role": "ckpt", "kind": "pairwise",
                                    "judge": judge_model, "orders": {}})
        row["orders"][job.order] = ex
    for row in rows.values():
        if row["kind"] == "pairwise":
            _combine_orders(row)
    return list(rows.values())


_OUTCOME = {  # what the judge's position verdict means for the checkpoint, per order
    "ckpt_first": {"a": "win", "b": "loss", "tie": "tie"},
    "base_first": {"a": "loss", "b": "win", "tie": "tie"},
}


def _combine_orders(row: dict) -> None:
    orders = row["orders"]
    row["requests"] = sum(o["requests"] for o in orders.values())
    row["cached"] = sum(int(o["cached"]) for o in orders.values())
    statuses = [orders[o]["status"] for o in ORDERS]  # plan_jobs always asks both orders
    if statuses != [OK, OK]:
        status = JUDGE_ERROR if JUDGE_ERROR in statuses else PARSE_FAILURE
        bad = next(o for o in ORDERS if orders[o]["status"] == status)
        row |= {"status": status, "error": f"{bad}: {orders[bad]['error']}", "verdict": None,
                "swap_agreement": None, "reason": ""}
        return
    first, second = (_OUTCOME[o][orders[o]["verdict"]] for o in ORDERS)
    agree = first == second
    row |= {"status": OK, "error": None, "verdict": first if agree else "tie", "swap_agreement": agree}
    row["reason"] = "; ".join(_order_text(o, orders[o]) for o in ORDERS)
    if not agree:
        row["reason"] += " | the verdict flips with the order: counted as a tie"


def _order_text(order: str, ex: dict) -> str:
    """'ckpt first: A = win (A is more complete)'."""
    v = ex["verdict"]
    text = f"{order.replace('_', ' ')}: {v if v == 'tie' else v.upper()} = {_OUTCOME[order][v]}"
    return f"{text} ({ex['reason']})" if ex["reason"] else text


# ---- judgments -> scores on the records ---------------------------------------------------------
_VALUE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def _unscored(row: dict) -> dict:
    what = "parse failure" if row["status"] == PARSE_FAILURE else "judge error"
    return {"value": None, "label": row["status"], "reason": f"unscored: {what}: {row['error']}"}


def _judge_reason(row: dict) -> str:
    return f"judge: {row['reason']}" if row.get("reason") else "judge gave no reason"


def scores_of(row: dict, record: dict, builtin_refusal: str | None) -> dict[str, dict]:
    ok = row["status"] == OK
    if row["kind"] == "rubric":
        return {rubric_id(d): ({"value": float(row["verdict"][d]), "label": None, "reason": _judge_reason(row)}
                               if ok else _unscored(row)) for d in DIMENSIONS}
    if row["kind"] == "pairwise":
        if not ok:
            return {PAIRWISE: _unscored(row), SWAP: _unscored(row)}
        agree = row["swap_agreement"]
        return {
            PAIRWISE: {"value": _VALUE[row["verdict"]], "label": row["verdict"], "reason": row["reason"]},
            SWAP: {"value": 1.0 if agree else 0.0, "label": "consistent" if agree else "flipped",
                   "reason": "same verdict in both orders" if agree else "the verdict flips with the order"},
        }
    # refusal: the judge as a second classifier, compared with the built-in one
    out = {REFUSAL: _unscored(row) if not ok else
           {"value": 0.0 if row["verdict"] == "compliance" else 1.0, "label": row["verdict"], "reason": _judge_reason(row)}}
    builtin = record.get("scores", {}).get(builtin_refusal) if builtin_refusal else None
    if builtin is not None:
        if not ok or builtin["value"] is None:
            why = _unscored(row) if not ok else {"value": None, "label": None,
                                                  "reason": "unscored: the built-in classifier did not score it"}
            out[REFUSAL_AGREEMENT] = why
        else:
            same = out[REFUSAL]["value"] == builtin["value"]
            out[REFUSAL_AGREEMENT] = {"value": 1.0 if same else 0.0, "label": "agree" if same else "disagree",
                                      "reason": f"judge: {row['verdict']}, built-in: {builtin['label']}"}
        row["builtin"] = builtin["label"]  # kept in judge.jsonl for the kappa in the summary
    return out


def apply_judgments(records: list[dict], rows: list[dict], suite: Suite) -> None:
    by_key = {(r["role"], r["task"], r["id"]): r for r in records}
    for row in rows:
        record = by_key[(row["role"], row["task"], row["id"])]
        builtin = builtin_refusal_scorer(suite.tasks[row["task"]])
        record.setdefault("scores", {}).update(scores_of(row, record, builtin))
        kept = {k: row[k] for k in ("status", "verdict", "error", "orders", "raw", "template") if k in row}
        record.setdefault("judge", {})[row["kind"]] = kept
