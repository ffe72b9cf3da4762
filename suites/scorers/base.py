"""Scores and the scorer registry.

A scorer is a factory registered by name; called with the parameters from the suite YAML it
returns a score function `(sample, answer) -> Score | None`:
- a Score with a `value` (1.0 pass / 0.0 fail, or any number) and a reason;
- a Score with value None: unscored, with the reason it could not decide (counted and shown,
  never folded into a pass or a fail);
- None: the scorer does not apply to this sample (e.g. the JSON check on a table prompt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol


class Answer(Protocol):
    text: str  # what the scorer judges (thinking removed)
    raw: str
    finish_reason: str | None  # "stop", "length", or None when unknown (answers made elsewhere)


@dataclass(frozen=True)
class Score:
    value: float | None
    reason: str
    label: str | None = None  # a verdict class, e.g. "full_refusal"

    @property
    def unscored(self) -> bool:
        return self.value is None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label, "reason": self.reason}


def passed(ok: bool, reason: str, label: str | None = None) -> Score:
    return Score(1.0 if ok else 0.0, reason, label)


def unscored(reason: str) -> Score:
    return Score(None, f"unscored: {reason}")


ScoreFn = Callable[[dict, Answer], "Score | None"]


@dataclass(frozen=True)
class ScorerInfo:
    name: str
    factory: Callable[..., ScoreFn]
    higher_is_better: bool
    description: str


_REGISTRY: dict[str, ScorerInfo] = {}


def scorer(name: str, *, higher_is_better: bool = True):
    """Register a scorer factory under `name` (the name used in suite YAML files)."""

    def register(factory: Callable[..., ScoreFn]) -> Callable[..., ScoreFn]:
        if name in _REGISTRY:
            raise ValueError(f"scorer {name!r} registered twice")
        doc = (factory.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ScorerInfo(name, factory, higher_is_better, doc[0] if doc else "")
        return factory

    return register


def registered_scorers() -> dict[str, ScorerInfo]:
    return dict(_REGISTRY)
