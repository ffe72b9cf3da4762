"""A run directory as the viewer shows it: one row per (task, sample) with each role's answer side
by side, every scorer's verdict with its reason, the judge's exchange, and the filters.

A verdict is `pass` / `fail` when every value of its score in the task is 0 or 1 (a rubric grade
of 1 out of 10 is a number) and a metric of the run reads that score for the sample (the metric says which value is good: a refusal passes on a harmful prompt and fails on
a benign one), `unscored` when the scorer could not decide, else a plain number (a rubric grade).
A sample is `flipped` when a scorer's pass/fail differs between the base and the checkpoint.

Every filter is a test on a row's tokens (`Row.tokens`); the page's script applies the same test
to the same tokens (data attributes) in an exported page, so both always agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.records import MetricDef, SampleRecord, Score, ScoreRecord
from harness.rundir import CONFIG, SAMPLES, SCORES, SUMMARY, RunDir

PASS, FAIL, UNSCORED = "pass", "fail", "unscored"
PAGE_SIZE = 50


@dataclass
class Verdict:
    scorer: str  # the scorer's id in the suite (ScoreRecord.scorer)
    score: str  # the score id (one scorer may write several)
    entry: Score
    outcome: str  # pass | fail | unscored | "" (a graded number)


@dataclass
class Side:
    """One role's answer to a sample and what the scorers said of it."""

    record: SampleRecord
    verdicts: list[Verdict] = field(default_factory=list)
    exchanges: list[tuple[str, dict]] = field(default_factory=list)  # (scorer, details): a judge's requests and replies

    @property
    def cut(self) -> bool:
        """The answer stopped at max_new_tokens."""
        return self.record.finish_reason == "length"


@dataclass
class Row:
    task: str
    id: str
    prompt: str | None
    sample: dict
    sides: dict[str, Side]  # role -> side, in the run's role order
    flipped: list[str] = field(default_factory=list)  # scorers whose pass/fail differs between base and ckpt

    @property
    def anchor(self) -> str:
        return f"s-{self.task}-{self.id}"

    def tokens(self) -> dict[str, set[str]]:
        """What the filters test: `role:scorer` per outcome, roles cut at max_new_tokens, flipped scorers."""
        out: dict[str, set[str]] = {PASS: set(), FAIL: set(), UNSCORED: set(), "cut": set(), "flipped": set(self.flipped)}
        for role, side in self.sides.items():
            for v in side.verdicts:
                if v.outcome:
                    out[v.outcome].add(f"{role}:{v.scorer}")
            if side.cut:
                out["cut"].add(role)
        return out

    def haystack(self) -> str:
        parts = [self.task, self.id, self.prompt or ""]
        for side in self.sides.values():
            parts += [side.record.output or "", side.record.raw or ""]
            parts += [v.entry.reason or "" for v in side.verdicts] + [v.entry.label or "" for v in side.verdicts]
        return "\n".join(parts).lower()


@dataclass
class SampleFilter:
    task: str = ""
    scorer: str = ""
    role: str = ""  # which model the outcome / unscored / cut filters look at ("": any)
    outcome: str = ""  # pass | fail
    flipped: bool = False
    unscored: bool = False
    cut: bool = False
    q: str = ""  # text search, case-insensitive
    id: str = ""  # one sample (links from a comparison's flipped samples)

    @classmethod
    def from_query(cls, params) -> "SampleFilter":
        def flag(name):
            return params.get(name, "") in {"1", "on", "true"}

        outcome = params.get("outcome", "")
        return cls(params.get("task", ""), params.get("scorer", ""), params.get("role", ""),
                   outcome if outcome in (PASS, FAIL) else "", flag("flipped"), flag("unscored"), flag("cut"),
                   params.get("q", "").strip(), params.get("id", ""))

    def _match(self, token: str) -> bool:
        role, _, scorer = token.partition(":")
        return (not self.role or role == self.role) and (not self.scorer or scorer == self.scorer)

    def keeps(self, row: Row) -> bool:
        if (self.task and row.task != self.task) or (self.id and row.id != self.id):
            return False
        t = row.tokens()
        if self.outcome == FAIL and not any(self._match(x) for x in t[FAIL]):
            return False
        if self.outcome == PASS and (any(self._match(x) for x in t[FAIL]) or not any(self._match(x) for x in t[PASS])):
            return False
        if self.unscored and not any(self._match(x) for x in t[UNSCORED]):
            return False
        if self.cut and not (t["cut"] if not self.role else self.role in t["cut"]):
            return False
        if self.flipped and not (t["flipped"] if not self.scorer else self.scorer in t["flipped"]):
            return False
        return not self.q or self.q.lower() in row.haystack()

    def active(self) -> bool:
        return any((self.task, self.scorer, self.role, self.outcome, self.flipped, self.unscored, self.cut, self.q, self.id))


@dataclass
class RunView:
    path: Path
    config: dict
    summary: dict | None  # None: the run did not finish (no summary.json)
    roles: list[str]
    definitions: list[MetricDef]
    rows: list[Row]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(r.task for r in self.rows))

    @property
    def scorers(self) -> list[str]:
        return sorted({v.scorer for r in self.rows for s in r.sides.values() for v in s.verdicts})

    def select(self, f: SampleFilter) -> list[Row]:
        return [r for r in self.rows if f.keeps(r)] if f.active() else self.rows


def page_of(rows: list[Row], page: int, size: int = PAGE_SIZE) -> tuple[list[Row], int, int]:
    """(the rows of page `page` (1-based, clamped), the page, how many pages)."""
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    return rows[(page - 1) * size: page * size], page, pages


def signature(path: Path) -> tuple:
    """Changes whenever the run's files do (the server keeps a loaded run until then)."""
    out = []
    for name in (CONFIG, SAMPLES, SCORES, SUMMARY):
        try:
            st = os.stat(path / name)
            out.append((name, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((name, None, None))
    return tuple(out)


def load_run(path: str | Path, *, samples: bool = True) -> RunView:
    """The run; `samples=False`: its config and summary only (the runs list), no rows."""
    run = RunDir.open_existing(path)
    config = run.config()
    try:
        summary = run.summary()
    except HarnessError:
        summary = None
    definitions = run.metric_definitions() or []
    roles = list(config.get("roles") or (summary or {}).get("roles") or [])
    if not samples:
        return RunView(Path(path), config, summary, roles, definitions, [])
    records = run.records()
    score_records = run.score_records()
    for r in records:
        if r.role not in roles:
            roles.append(r.role)
    return RunView(Path(path), config, summary, roles, definitions, build_rows(records, score_records, definitions, roles))


def build_rows(records: list[SampleRecord], score_records: list[ScoreRecord], definitions: list[MetricDef],
               roles: list[str]) -> list[Row]:
    rows: dict[tuple[str, str], Row] = {}
    sides: dict[tuple[str, str, str], Side] = {}
    for rec in records:
        row = rows.get((rec.task, rec.id))
        if row is None:
            row = rows[(rec.task, rec.id)] = Row(rec.task, rec.id, rec.prompt, rec.sample, {})
        side = row.sides[rec.role] = Side(rec)
        sides[rec.key] = side
    latest: dict[tuple, ScoreRecord] = {}  # a later line of the same scorer wins (a judge asked again)
    for sr in score_records:
        latest[(sr.key, sr.scorer)] = sr
    good = _pass_values(definitions)
    graded = {(sr.task, sid) for sr in latest.values() for sid, e in sr.scores.items()
              if e.value is not None and e.value not in (0.0, 1.0)}  # a rubric's 1-10 is never pass/fail, even at 1
    for (key, scorer), sr in latest.items():
        side = sides.get(key)
        if side is None:
            continue
        for sid, entry in sr.scores.items():
            passes = None if (sr.task, sid) in graded else good(side.record, sid)
            side.verdicts.append(Verdict(scorer, sid, entry, _outcome(entry, passes)))
        if sr.details:
            side.exchanges.append((scorer, sr.details))
    for row in rows.values():
        row.sides = {role: row.sides[role] for role in roles if role in row.sides}
        row.flipped = _flipped(row)
    return list(rows.values())


def _pass_values(definitions: list[MetricDef]):
    """(record, score id) -> the value that passes (1.0 or 0.0), or None when no metric reads it."""
    by_score: dict[str, list[MetricDef]] = {}
    for d in definitions:
        if d.aggregate == "mean":
            by_score.setdefault(d.score, []).append(d)

    def good(record: SampleRecord, score: str) -> float | None:
        for d in by_score.get(score, ()):
            if (d.task is None or d.task == record.task) and d.selects(record.sample) and (not d.roles or record.role in d.roles):
                return 1.0 if d.higher_is_better else 0.0
        return None

    return good


def _outcome(entry: Score, good: float | None) -> str:
    if entry.value is None:
        return UNSCORED
    if good is None or entry.value not in (0.0, 1.0):
        return ""
    return PASS if entry.value == good else FAIL


def _flipped(row: Row) -> list[str]:
    if "base" not in row.sides or "ckpt" not in row.sides:
        return []
    before = {(v.scorer, v.score): v.outcome for v in row.sides["base"].verdicts if v.outcome in (PASS, FAIL)}
    out = []
    for v in row.sides["ckpt"].verdicts:
        was = before.get((v.scorer, v.score))
        if was and v.outcome in (PASS, FAIL) and was != v.outcome and v.scorer not in out:
            out.append(v.scorer)
    return out
