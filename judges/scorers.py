"""LLM judges as scorers: batched, async (through the judge client), and able to see both roles'
answers of the same prompt. They run only in runs with a judge (`--judge`, `requires={"judge"}`).

    judge_pairwise  ckpt vs base, asked in both orders (ckpt_first: A = ckpt; base_first: A = base).
                    writes judge_pairwise (win 1, tie 0.5, loss 0; on ckpt records) and
                    judge_swap_agreement (same verdict in both orders); a flip counts as a tie
    judge_rubric    1-10 per dimension for every answer: rubric_<dimension>
    judge_refusal   the judge as a second refusal classifier: judge_refusal (refused 1, complied 0)
                    and judge_refusal_agreement with the built-in classifier (`compare_with`)

Each is configured like alpaca_eval's evaluators: a YAML file in judges/configs/ (or a path given
as the scorer's `config` parameter) names the prompt template, the completion settings and the
parser. A judge that is down or keeps failing only leaves its judgments unscored ("unscored: judge
error: ..."); an unparseable reply is "unscored: parse failure: ..." with the raw reply kept.
A judgment without a verdict (a judge error or a parse failure) is transient: the next scoring pass
asks again; good replies come from the cache, which never holds a failed or unparseable reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from harness.errors import HarnessError
from harness.records import Key, SampleRecord, Score, ScoreRecord
from harness.scorers import DefaultMetric, batch_scorer
from harness.io.includes import find as find_included
from harness.io.yaml_lines import check_keys, load_yaml
from judges.client import JudgeReply
from judges.prompt_templates import template_for
from judges.verdicts import DIMENSIONS, KINDS, PARSERS

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
ORDERS = ("ckpt_first", "base_first")  # which answer sits in position A
OK, PARSE_FAILURE, JUDGE_ERROR = "ok", "parse_failure", "judge_error"
PAIRWISE, SWAP = "judge_pairwise", "judge_swap_agreement"
REFUSAL, REFUSAL_AGREEMENT = "judge_refusal", "judge_refusal_agreement"


def rubric_id(dimension: str) -> str:
    return f"rubric_{dimension}"


# ---- configuration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class JudgeConfig:
    name: str
    kind: str  # pairwise | rubric | refusal: what is asked and what the verdict means
    template: str  # judges/templates/<template>.<lang>.md
    parser: str
    completion: dict = field(default_factory=dict)


def load_judge_config(name_or_path: str) -> JudgeConfig:
    path = Path(name_or_path)
    if path.suffix not in {".yaml", ".yml"}:  # a name: --include folders first, then the built-in configs
        path = find_included("judges", "configs", f"{name_or_path}.yaml") or CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise HarnessError(f"judge config not found: {name_or_path} (built in: {known}; or a path to a .yaml file)")
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise HarnessError(f"{path}: a judge config is a mapping (kind, template, completion, parser)")
    check_keys(doc, {"kind", "template", "completion", "parser"}, path, "judge config")
    kind, parser = doc.get("kind"), doc.get("parser", doc.get("kind"))
    if kind not in KINDS:
        raise HarnessError(f"{path}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if parser not in PARSERS:
        raise HarnessError(f"{path}: parser {parser!r} is not registered (known: {', '.join(sorted(PARSERS))}; "
                           "register one with judges.verdicts.verdict_parser in an --include folder's scorers/)")
    if PARSERS[parser].kind != kind:
        raise HarnessError(f"{path}: parser {parser!r} returns {PARSERS[parser].kind} verdicts, not {kind}")
    return JudgeConfig(path.stem, kind, str(doc.get("template", kind)), parser, dict(doc.get("completion") or {}))


# ---- the judge, opened once per scoring pass --------------------------------------------------
def judge_session(context):
    """The run's Judge (client + cache), started on first use and closed with the pass."""
    if "judge" not in context.shared:
        from judges.cache import JudgeCache
        from judges.client import Judge
        from judges.local import judge_target

        options = context.options["judge"]
        target = context.resources.enter_context(judge_target(options, context.progress.note))
        context.shared["judge"] = Judge(options, target, cache=JudgeCache(options.cache_dir))
        context.resources.callback(_report_judge, context)
    return context.shared["judge"]


def _report_judge(context) -> None:
    judge = context.shared["judge"]
    if judge.cache and judge.cache.write_error:
        context.progress.note(f"judge cache not written ({judge.cache.write_error}); a rerun will ask the judge again")
    context.progress.note(f"judge {judge.model}: {judge.http_requests} requests, {judge.cache_hits} answered from the cache")


@dataclass
class Job:
    key: Key  # the record the verdict belongs to (pairwise: the ckpt record)
    order: str | None  # pairwise only
    template: str
    messages: list[dict]


class _JudgeScorer:
    kind = ""

    def __init__(self, config: str | None = None):
        self.config = load_judge_config(config or self.kind)
        if self.config.kind != self.kind:
            raise ValueError(f"judge config {self.config.name} is a {self.config.kind} judge, not a {self.kind} judge")

    def plan(self, records: list[SampleRecord], todo: set[Key], context) -> list[Job]:
        jobs = []
        for r in records:
            if r.key in todo and r.output is not None:
                t = template_for(self.config.template, r.prompt or "")
                jobs.append(Job(r.key, None, t.name, t.render(question=r.prompt or "", answer=r.output)))
        return jobs

    def score_batch(self, records: list[SampleRecord], todo: set[Key], context) -> Iterator[ScoreRecord]:
        jobs = self.plan(records, todo, context)
        if not jobs:
            return
        judge = judge_session(context)
        context.progress.start(f"judge {judge.model} {self.kind}", len(jobs))
        parser = PARSERS[self.config.parser].parse
        replies = judge.ask_all([j.messages for j in jobs], settings=self.config.completion,
                                on_done=context.progress.advance, usable=lambda text: parser(text).ok)
        by_key = {r.key: r for r in records}
        for key, row in self.judgments(jobs, replies, judge.model).items():
            entries = self.scores_of(row, by_key[key])
            details = {"judgment": row}
            if row["status"] != OK:  # a judge error or an unparseable reply: asked again by the next pass
                details["transient"] = True
            yield ScoreRecord(key[0], key[1], key[2], self.kind, entries, details)

    def judgments(self, jobs: list[Job], replies: list[JudgeReply], judge_model: str) -> dict[Key, dict]:
        rows = {}
        for job, reply in zip(jobs, replies):
            role, task, sid = job.key
            ex = self.exchange(job, reply)
            rows[job.key] = {"task": task, "id": sid, "role": role, "kind": self.kind, "judge": judge_model,
                             **{k: ex[k] for k in ("status", "verdict", "reason", "error", "raw", "template")},
                             "requests": ex["requests"], "cached": int(ex["cached"])}
        return rows

    def exchange(self, job: Job, reply: JudgeReply) -> dict:
        """One judge request and what came of it."""
        out = {"template": job.template, "raw": kept_raw(reply.text), "cached": reply.cached, "requests": reply.requests}
        if reply.error:
            return out | {"status": JUDGE_ERROR, "verdict": None, "reason": "", "error": reply.error}
        verdict = PARSERS[self.config.parser].parse(reply.text)
        if not verdict.ok:
            error = verdict.error
            if reply.finish_reason == "length":
                error += " (the reply was cut at max_tokens; raise --judge-max-tokens)"
            return out | {"status": PARSE_FAILURE, "verdict": None, "reason": "", "error": error}
        return out | {"status": OK, "verdict": verdict.value, "reason": verdict.reason, "error": None}

    def scores_of(self, row: dict, record: SampleRecord) -> dict[str, Score]:
        raise NotImplementedError


#: Raw judge replies kept in scores.jsonl / judge.jsonl; a judge that ignores max_tokens can send
#: megabytes, which the run's files need not repeat for every judgment.
MAX_KEPT_RAW = 20_000


def kept_raw(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_KEPT_RAW:
        return text
    return text[:MAX_KEPT_RAW] + f" … [{len(text) - MAX_KEPT_RAW} more characters not kept]"


def _unscored(row: dict) -> Score:
    what = "parse failure" if row["status"] == PARSE_FAILURE else "judge error"
    return Score(None, f"unscored: {what}: {row['error']}", row["status"])


def _judge_reason(row: dict) -> str:
    return f"judge: {row['reason']}" if row.get("reason") else "judge gave no reason"


@batch_scorer("judge_rubric", outputs=tuple(rubric_id(d) for d in DIMENSIONS),
              metrics=tuple(DefaultMetric(rubric_id(d), rubric_id(d)) for d in DIMENSIONS), requires={"judge"})
def judge_rubric(config: str | None = None):
    """LLM judge: 1-10 per dimension (instruction following, format compliance, safety, fluency)."""
    return RubricJudge(config)


class RubricJudge(_JudgeScorer):
    kind = "rubric"

    def scores_of(self, row, record):
        if row["status"] != OK:
            return {rubric_id(d): _unscored(row) for d in DIMENSIONS}
        return {rubric_id(d): Score(float(row["verdict"][d]), _judge_reason(row)) for d in DIMENSIONS}


@batch_scorer("judge_refusal", outputs=(REFUSAL, REFUSAL_AGREEMENT),
              metrics=(DefaultMetric("judge_refusal_rate", REFUSAL), DefaultMetric(REFUSAL_AGREEMENT, REFUSAL_AGREEMENT)),
              requires={"judge"})
def judge_refusal(config: str | None = None, compare_with: str = "refusal"):
    """LLM judge as a second refusal classifier, with its agreement with the built-in one."""
    return RefusalJudge(config, compare_with)


class RefusalJudge(_JudgeScorer):
    kind = "refusal"

    def __init__(self, config: str | None = None, compare_with: str = "refusal"):
        super().__init__(config)
        self.compare_with = compare_with

    def scores_of(self, row, record):
        ok = row["status"] == OK
        judged = (Score(0.0 if row["verdict"] == "compliance" else 1.0, _judge_reason(row), row["verdict"])
                  if ok else _unscored(row))
        out = {REFUSAL: judged}
        builtin = record.scores.get(self.compare_with)
        if builtin is None:
            return out
        if not ok:
            out[REFUSAL_AGREEMENT] = _unscored(row)
        elif builtin.value is None:
            out[REFUSAL_AGREEMENT] = Score(None, "unscored: the built-in classifier did not score it")
        else:
            same = judged.value == builtin.value
            out[REFUSAL_AGREEMENT] = Score(1.0 if same else 0.0, f"judge: {row['verdict']}, built-in: {builtin.label}",
                                           "agree" if same else "disagree")
        row["builtin"] = builtin.label  # kept with the judgment for the kappa in the summary
        return out


@batch_scorer("judge_pairwise", outputs=(PAIRWISE, SWAP),
              metrics=(DefaultMetric("judge_win_rate", PAIRWISE, roles=("ckpt",)),
                       DefaultMetric(SWAP, SWAP, roles=("ckpt",))),
              requires={"judge"})
def judge_pairwise(config: str | None = None):
    """LLM judge: the checkpoint's answer vs the base's, both orders (win 1, tie 0.5, loss 0)."""
    return PairwiseJudge(config)


_OUTCOME = {  # what the judge's position verdict means for the checkpoint, per order
    "ckpt_first": {"a": "win", "b": "loss", "tie": "tie"},
    "base_first": {"a": "loss", "b": "win", "tie": "tie"},
}
_VALUE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


class PairwiseJudge(_JudgeScorer):
    kind = "pairwise"

    def plan(self, records, todo, context):
        answers = {r.key: r for r in records if r.output is not None}
        wanted = [k for k in sorted(todo) if k[0] == "ckpt" and k in answers]
        if wanted and not any(k[0] == "base" for k in answers):
            context.progress.note(f"{wanted[0][1]}: pairwise judging needs base and checkpoint answers "
                                  "(an adapter --ckpt without --no-base); skipped")
            return []
        jobs = []
        for key in wanted:
            ckpt, base = answers[key], answers.get(("base", key[1], key[2]))
            if base is None:
                continue
            t = template_for(self.config.template, ckpt.prompt or "")
            for order, (a, b) in zip(ORDERS, ((ckpt, base), (base, ckpt))):
                jobs.append(Job(key, order, t.name,
                                t.render(question=ckpt.prompt or "", answer_a=a.output, answer_b=b.output)))
        return jobs

    def judgments(self, jobs, replies, judge_model):
        rows: dict[Key, dict] = {}
        for job, reply in zip(jobs, replies):
            role, task, sid = job.key
            row = rows.setdefault(job.key, {"task": task, "id": sid, "role": role, "kind": "pairwise",
                                            "judge": judge_model, "orders": {}})
            row["orders"][job.order] = self.exchange(job, reply)
        for row in rows.values():
            combine_orders(row)
        return rows

    def scores_of(self, row, record):
        if row["status"] != OK:
            return {PAIRWISE: _unscored(row), SWAP: _unscored(row)}
        agree = row["swap_agreement"]
        return {
            PAIRWISE: Score(_VALUE[row["verdict"]], row["reason"], row["verdict"]),
            SWAP: Score(1.0 if agree else 0.0,
                        "same verdict in both orders" if agree else "the verdict flips with the order",
                        "consistent" if agree else "flipped"),
        }


def combine_orders(row: dict) -> None:
    """Both orders' exchanges -> the checkpoint's verdict (a flip is a tie) and swap agreement."""
    orders = row["orders"]
    row["requests"] = sum(o["requests"] for o in orders.values())
    row["cached"] = sum(int(o["cached"]) for o in orders.values())
    statuses = [orders[o]["status"] for o in ORDERS]  # plan always asks both orders
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
