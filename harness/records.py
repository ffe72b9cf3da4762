"""The records a run is made of, and the one place that turns them into JSON and back.

    SampleRecord   one line of samples.jsonl: what a model produced for one (role, task, sample):
                   an answer (generate tasks) or an NLL sum over counted tokens (loglikelihood tasks)
    Score          one verdict: value (None = unscored), reason, label, weight (ratio metrics)
    ScoreRecord    one line of scores.jsonl: one scorer's entries for one sample record, plus its
                   details (a judge's requests and raw replies)
    MetricDef      how a metric is computed from score entries; stored with the run (config.json
                   `metric_definitions`) so summary, compare, baseline and gate never rebuild it

Runs written before scoring became its own stage (run format 1: no `format_version` in
config.json) kept the scores inside samples.jsonl; `split_legacy_record` upgrades such a line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

RUN_FORMAT_VERSION = 2
AGGREGATES = ("mean", "perplexity", "ratio")  # mean of values; exp(sum / sum weights); sum / sum weights
Key = tuple[str, str, str]  # (role, task, sample id)


@dataclass
class Score:
    """One verdict of one scorer on one answer: what a scorer returns and what scores.jsonl holds."""

    value: float | None  # 1.0 pass / 0.0 fail, or any number; None = unscored
    reason: str = ""
    label: str | None = None  # a verdict class, e.g. "full_refusal"
    weight: float | None = None  # ratio metrics: value / weight summed over samples (perplexity: NLL / tokens)

    @property
    def unscored(self) -> bool:
        return self.value is None

    def to_dict(self) -> dict[str, Any]:
        out = {"value": self.value, "label": self.label, "reason": self.reason}
        if self.weight is not None:
            out["weight"] = self.weight
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Score":
        return cls(d.get("value"), d.get("reason", ""), d.get("label"), d.get("weight"))


ScoreEntry = Score  # the name this type had in records; one type for scorers and scores.jsonl


@dataclass
class SampleRecord:
    role: str
    model: str
    task: str
    id: str
    prompt: str | None  # generate tasks: the last user turn; None for loglikelihood tasks
    sample: dict  # the sample as the suite defines it (the fields metrics filter on)
    output: str | None = None  # the answer scorers see (thinking removed)
    raw: str | None = None  # everything generated, thinking included
    finish_reason: str | None = None  # "stop" | "length" | None (unknown)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    nll_sum: float | None = None  # loglikelihood tasks
    n_tokens: int | None = None
    n_bytes: int | None = None  # UTF-8 bytes of the counted text (bits per byte), when the backend gives it
    unsupported: str | None = None  # why the backend could not produce this (e.g. no loglikelihoods)
    scores: dict[str, Score] = field(default_factory=dict)  # joined from scores.jsonl, never in samples.jsonl

    @property
    def key(self) -> Key:
        return (self.role, self.task, self.id)

    @property
    def text(self) -> str:
        """The answer as scorers see it (the Answer protocol of harness.scorers)."""
        return self.output or ""

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "scores"}
        return {k: v for k, v in out.items() if v is not None or k in _ALWAYS}

    @classmethod
    def from_dict(cls, d: dict) -> "SampleRecord":
        known = {f.name for f in fields(cls)} - {"scores"}
        return cls(**{k: v for k, v in d.items() if k in known})


_ALWAYS = {"role", "model", "task", "id", "prompt", "sample"}


@dataclass
class ScoreRecord:
    role: str
    task: str
    id: str
    scorer: str  # the scorer's id in the suite (e.g. json_valid_strict, judge_pairwise)
    scores: dict[str, Score]  # output id -> entry
    details: dict | None = None  # e.g. a judge's exchange: kind, status, verdict, raw replies

    @property
    def key(self) -> Key:
        return (self.role, self.task, self.id)

    def to_dict(self) -> dict[str, Any]:
        out = {"role": self.role, "task": self.task, "id": self.id, "scorer": self.scorer,
               "scores": {k: v.to_dict() for k, v in self.scores.items()}}
        if self.details is not None:
            out["details"] = self.details
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "ScoreRecord":
        return cls(d["role"], d["task"], d["id"], d["scorer"],
                   {k: Score.from_dict(v) for k, v in d.get("scores", {}).items()}, d.get("details"))


@dataclass
class MetricDef:
    name: str  # full name, e.g. "format/json_validity_strict"
    task: str | None  # None: pooled over every task's records
    score: str  # the score id it reads
    where: dict = field(default_factory=dict)  # sample fields that select the samples it counts
    higher_is_better: bool = True
    roles: list[str] | None = None  # only these roles have it (e.g. a win rate of ckpt over base)
    aggregate: str = "mean"

    @property
    def short(self) -> str:
        return self.name.split("/", 1)[-1]

    def selects(self, sample: dict) -> bool:
        return all(sample.get(k) == v for k, v in self.where.items())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["name"]
        return out

    @classmethod
    def from_dict(cls, name: str, d: dict) -> "MetricDef":
        """Also reads the run-format-1 / baseline-format-1 shape (`scorer` for the score id;
        "perplexity" meant the NLL of a loglikelihood task)."""
        score = d.get("score", d.get("scorer"))
        aggregate = d.get("aggregate") or ("perplexity" if score == "perplexity" else "mean")
        return cls(name, d.get("task"), score, dict(d.get("where") or {}), bool(d.get("higher_is_better", True)),
                   list(d["roles"]) if d.get("roles") else None, aggregate)


def join_scores(records: list[SampleRecord], score_records: list[ScoreRecord]) -> list[SampleRecord]:
    """Attach every score entry to its sample record (a later line for the same scorer wins)."""
    by_key = {r.key: r for r in records}
    for sr in score_records:
        record = by_key.get(sr.key)
        if record is not None:
            record.scores.update(sr.scores)
    return records


def split_legacy_record(d: dict) -> tuple[SampleRecord, list[ScoreRecord]]:
    """A run-format-1 line of samples.jsonl (scores inline; perplexity as nll_sum/n_tokens; judge
    replies under `judge`) as a sample record and its score records."""
    record = SampleRecord.from_dict(d)
    out = []
    for sid, s in (d.get("scores") or {}).items():
        if sid == "perplexity":  # format 1 marked a backend without loglikelihoods this way
            record.unsupported = s.get("reason")
        out.append(ScoreRecord(record.role, record.task, record.id, sid, {sid: Score.from_dict(s)}))
    if d.get("nll_sum") is not None:
        entry = Score(d["nll_sum"], f"NLL over {d['n_tokens']} tokens", weight=d["n_tokens"])
        out.append(ScoreRecord(record.role, record.task, record.id, "perplexity", {"perplexity": entry}))
    return record, out
