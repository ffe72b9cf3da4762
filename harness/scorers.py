"""Scores and the scorer registry: one registry, fed by decorators, for every kind of scorer.

A scorer is a factory registered by name; called with the parameters from the suite YAML it
returns what does the scoring:

- `@scorer(name)`: a per-sample score function `(sample, answer) -> Score | None`, where
  `answer` is the sample's record (text, raw, finish_reason; nll_sum, n_tokens for
  loglikelihood tasks). It returns a Score with a `value` (1.0 pass / 0.0 fail, or any number)
  and a reason; a Score with value None when it cannot decide (unscored, with the reason: counted
  and shown, never folded into a pass or a fail); or None when it does not apply to the sample.
- `@batch_scorer(name, outputs=...)`: an object with `score_batch(records, todo, context)` that
  sees every record of a task at once, both roles included (judges: pairwise needs the base's and
  the checkpoint's answers of the same prompt). It yields `ScoreRecord`s and may be slow and
  remote; the scoring stage writes each as it comes, so a killed pass resumes.

A scorer declares its `outputs` (the score ids it writes; a per-sample scorer writes one, under
its id in the suite) and the metrics a task gets when the suite declares none for it.
`requires={"judge"}` marks scorers that only run when the run has a judge (`--judge`).
Bump `version` when a scorer's verdicts change: rescored runs record it, and `compare` names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from harness.records import Score  # noqa: F401  (re-exported: the plugin API's `from harness.scorers import Score`)


class Answer(Protocol):
    text: str  # what the scorer judges (thinking removed)
    raw: str
    finish_reason: str | None  # "stop", "length", or None when unknown (answers made elsewhere)


def passed(ok: bool, reason: str, label: str | None = None) -> Score:
    return Score(1.0 if ok else 0.0, reason, label)


def unscored(reason: str, label: str | None = None) -> Score:
    return Score(None, f"unscored: {reason}", label)


ScoreFn = Callable[[dict, Answer], "Score | None"]


@dataclass(frozen=True)
class DefaultMetric:
    """A metric a scorer gives a task that declares none for it (`score` is an output id;
    None means the scorer's own id)."""

    name: str | None = None  # None: the scorer's id
    score: str | None = None
    where: dict = field(default_factory=dict)
    roles: tuple[str, ...] | None = None
    aggregate: str = "mean"


@dataclass(frozen=True)
class ScorerInfo:
    name: str
    factory: Callable[..., Any]
    higher_is_better: bool
    description: str
    batch: bool = False  # a batch scorer (score_batch) rather than a per-sample function
    outputs: tuple[str, ...] | None = None  # batch scorers: the score ids written; None: the scorer's id
    metrics: tuple[DefaultMetric, ...] = (DefaultMetric(),)
    requires: frozenset[str] = frozenset()  # e.g. {"judge"}: runs only when the run has one
    task_kinds: tuple[str, ...] = ("generate",)
    version: str = "1"


class BatchScorer(Protocol):
    def score_batch(self, records: list, todo: set, context: Any) -> Iterable[Any]:
        """Yield ScoreRecords for the records whose key (role, task, id) is in `todo`."""


_REGISTRY: dict[str, ScorerInfo] = {}


def _register(info: ScorerInfo) -> None:
    if info.name in _REGISTRY and _REGISTRY[info.name].factory is not info.factory:
        raise ValueError(f"scorer {info.name!r} registered twice")
    _REGISTRY[info.name] = info


def _first_doc_line(fn) -> str:
    doc = (fn.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def scorer(name: str, *, higher_is_better: bool = True, aggregate: str = "mean",
           task_kinds: tuple[str, ...] = ("generate",), version: str = "1"):
    """Register a per-sample scorer factory under `name` (the name used in suite YAML files)."""

    def register(factory: Callable[..., ScoreFn]) -> Callable[..., ScoreFn]:
        _register(ScorerInfo(name, factory, higher_is_better, _first_doc_line(factory),
                             metrics=(DefaultMetric(aggregate=aggregate),), task_kinds=task_kinds, version=version))
        return factory

    return register


def batch_scorer(name: str, *, outputs: tuple[str, ...], metrics: tuple[DefaultMetric, ...],
                 requires: frozenset[str] | set[str] = frozenset(), higher_is_better: bool = True, version: str = "1"):
    """Register a batch scorer factory (returns an object with `score_batch`)."""

    def register(factory: Callable[..., BatchScorer]) -> Callable[..., BatchScorer]:
        _register(ScorerInfo(name, factory, higher_is_better, _first_doc_line(factory), batch=True,
                             outputs=tuple(outputs), metrics=tuple(metrics), requires=frozenset(requires),
                             version=version))
        return factory

    return register


def registered_scorers() -> dict[str, ScorerInfo]:
    from harness.plugins import load_builtin_plugins

    load_builtin_plugins()
    return dict(_REGISTRY)
