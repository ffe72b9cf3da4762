"""The scoring stage: every scorer of the suite over the answers a run directory holds.

    generate (samples.jsonl) -> score (scores.jsonl) -> summarise (summary.json) -> render

Scoring reads answers and writes its own file, one ScoreRecord per (sample record, scorer),
appended as each is made; nothing is rewritten in place. What scores.jsonl already holds is not
scored again, so a killed pass resumes, and `harness rescore` can run it on old answers with
today's scorers. No model is loaded here: judges reach theirs through `context`.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from harness.errors import HarnessWarning
from harness.records import ScoreRecord, SampleRecord
from harness.scorers import unscored
from harness.rundir import RunDir
from harness.suite import ScorerSpec, Suite


class Progress:
    """Where long work reports how far it is (reports/progress.py draws it); this one says nothing."""

    def start(self, description: str, total: int) -> None: ...

    def describe(self, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class ScoringContext:
    """What scorers may use beyond the records: run-time options (e.g. the judge endpoint), shared
    resources opened once per pass (a local judge server), and where to report."""

    options: dict[str, Any] = field(default_factory=dict)  # e.g. {"judge": JudgeOptions}
    progress: Progress = field(default_factory=Progress)
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> set[str]:
        """The extras this run has, matched against scorers' `requires`."""
        return {k for k, v in self.options.items() if v is not None}


def score_run(run: RunDir, suite: Suite, context: ScoringContext | None = None, *,
              only: Callable[[str, ScorerSpec], bool] | None = None) -> int:
    """Score what is missing; returns how many score records were written. `only(task, spec)`
    limits the pass to some scorers (the rest is left as it is)."""
    context = context or ScoringContext()
    records = run.records()
    # a transient failure (a judge that was down) is asked again; a later line for the same key wins
    done = {(sr.task, sr.scorer, sr.role, sr.id) for sr in run.score_records() if not (sr.details or {}).get("transient")}
    by_task: dict[str, list[SampleRecord]] = {}
    for r in records:
        by_task.setdefault(r.task, []).append(r)
    work = []
    for task in suite.tasks.values():
        for spec in task.scorers_for(context.available):
            if only and not only(task.name, spec):
                continue
            todo = {r.key for r in by_task.get(task.name, []) if (task.name, spec.id, r.role, r.id) not in done}
            if todo:
                work.append((task, spec, todo))
    if not work:
        return 0
    written = 0
    with context.resources, run.score_appender() as out, context.progress:
        per_sample = [(t, s, todo) for t, s, todo in work if not s.batch]
        if per_sample:
            context.progress.start("scoring", sum(len(todo) for _, _, todo in per_sample))
            for task, spec, todo in per_sample:
                for r in by_task[task.name]:
                    if r.key in todo:
                        out.write(score_one(spec, r).to_dict())
                        written += 1
                        context.progress.advance()
        batched = [w for w in work if w[1].batch]
        if batched:  # batch scorers see the per-sample scores too (a judge compares with the built-in classifier)
            by_task = {}
            for r in run.scored():
                by_task.setdefault(r.task, []).append(r)
        for task, spec, todo in batched:  # a batch scorer reports its own progress (e.g. judge requests)
            for sr in spec.instance.score_batch(by_task.get(task.name, []), todo, context):
                sr.scorer = spec.id
                out.write(sr.to_dict())
                written += 1
    return written


def score_one(spec: ScorerSpec, record: SampleRecord) -> ScoreRecord:
    """One per-sample scorer on one record (the sample as the record keeps it); a scorer that does
    not apply writes an empty entry set (so the pass does not ask it again). A scorer that raises
    (a bug met by an odd answer) costs that one verdict, not the run: unscored with the error as
    the reason, and a warning."""
    try:
        score = spec.instance(record.sample, record)
    except Exception as e:  # noqa: BLE001 (any bug in any scorer)
        why = f"scorer error: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        warnings.warn(f"scorer {spec.id} failed on {record.role} {record.task}/{record.id} ({why}); "
                      "recorded as unscored", HarnessWarning, stacklevel=2)
        return ScoreRecord(record.role, record.task, record.id, spec.id, {spec.id: unscored(why)})
    scores = {} if score is None else {spec.id: score}
    return ScoreRecord(record.role, record.task, record.id, spec.id, scores)
