"""A class's grades as one table: a row per submission (graded, or why it could not be), the
rubric's items as columns, per-item statistics, the cross-submission flags and the judge's
usage. `harness/app/class_grading.py` fills it from graded.jsonl; reports/roster.py draws it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from harness.lab.cross_checks import Flag
from harness.lab.grading import Rubric

GRADED, ERROR = "graded", "error"
INTACT, TAMPERED = "intact", "TAMPERED"
JUDGE_COUNTS = ("asked", "requests", "cached", "errors", "prompt_tokens", "completion_tokens")


def tamper_status(row: dict) -> str:
    """`intact`, or `TAMPERED: changed a, b; missing c` (empty for a submission not graded)."""
    if row.get("status") != GRADED:
        return ""
    t = row.get("tamper") or {}
    parts = [f"{kind} {', '.join(files)}" for kind, files in t.items() if files]
    return f"{TAMPERED}: " + "; ".join(parts) if parts else INTACT


@dataclass
class ItemStats:
    id: str
    title: str
    points: float
    bonus: bool
    written: bool
    values: list[float] = field(default_factory=list)  # every graded submission's points, by hand ones left out
    by_hand: int = 0  # submissions whose points a person still gives

    @property
    def mean(self) -> float | None:
        return sum(self.values) / len(self.values) if self.values else None


@dataclass
class Roster:
    rubric: Rubric
    rows: list[dict]  # graded.jsonl rows, one per submission, sorted by student
    flags: list[Flag]
    items: list[ItemStats]
    judge: dict[str, int] | None  # summed usage, None without a judge

    @property
    def graded(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == GRADED]

    @property
    def errors(self) -> list[dict]:
        return [r for r in self.rows if r["status"] != GRADED]

    @property
    def tampered(self) -> list[dict]:
        return [r for r in self.graded if tamper_status(r).startswith(TAMPERED)]

    @property
    def totals(self) -> list[float]:
        return [r["earned"] for r in self.graded]

    @property
    def maximum(self) -> float:
        return sum(i.points for i in self.rubric.items if not i.bonus)

    def flags_of(self, student: str) -> list[Flag]:
        return [f for f in self.flags if student in f.students]

    def needs_a_person(self) -> bool:
        return bool(self.errors or self.tampered or self.flags)


def item_points(row: dict) -> dict[str, float | None]:
    return {i["id"]: i["earned"] for i in (row.get("grade") or {}).get("items", [])}


def build_roster(rubric: Rubric, rows: list[dict], flags: list[Flag], judged: bool) -> Roster:
    rows = sorted(rows, key=lambda r: r["student"])
    stats = [ItemStats(i.id, i.title, i.points, i.bonus, i.written) for i in rubric.items]
    for row in rows:
        if row["status"] != GRADED:
            continue
        got = item_points(row)
        for s in stats:
            value = got.get(s.id)
            if value is None:
                s.by_hand += s.id in got
            else:
                s.values.append(value)
    usage = None
    if judged:
        usage = {k: sum((r.get("judge") or {}).get(k, 0) for r in rows) for k in JUDGE_COUNTS}
    return Roster(rubric, rows, flags, stats, usage)


def grades_csv(roster: Roster) -> str:
    """grades.csv: a row per submission; an item's cell is empty while a person still grades it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    ids = [i.id for i in roster.rubric.items]
    w.writerow(["student", *ids, "total", "maximum", "pending_by_hand", "tamper", "flags", "error"])
    for row in roster.rows:
        flags = "; ".join(f"{f.kind} with {next(s for s in f.students if s != row['student'])}"
                          for f in roster.flags_of(row["student"]))
        if row["status"] != GRADED:
            w.writerow([row["student"], *[""] * len(ids), "", "", "", "", flags, row.get("error", "")])
            continue
        got = item_points(row)
        w.writerow([row["student"], *[_num(got.get(i)) for i in ids], _num(row["earned"]), _num(row["maximum"]),
                    _num(row["pending_by_hand"]), tamper_status(row), flags, ""])
    return buf.getvalue()


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"
