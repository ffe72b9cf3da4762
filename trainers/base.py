"""The trainer plug-in point: a small interface and a registry.

A trainer takes a TrainConfig and hooks, trains, and saves PEFT adapter checkpoints under
`config.output_dir` (checkpoint-<step>/ while training, final/ at the end). It calls
`hooks.on_start(model, tokenizer)` once before the first step and
`hooks.on_checkpoint(step, path, model, tokenizer)` after each checkpoint is saved, and reports
its steps to `hooks.progress` when the hooks have one (harness.scoring.Progress: a Rich bar on a
terminal, plain lines in logs); `model` is the in-memory PEFT model, so rescoring needs no reload.
on_checkpoint returns the rescored metrics (name -> number) for the trainer to log at that step
with its own loggers, or None. A trainer that runs elsewhere (another
process, another tool) needs no code here at all: `harness watch DIR` rescores whatever
checkpoint directories appear.

Adding one:

    from trainers.base import register_trainer

    @register_trainer("unsloth")
    class UnslothTrainer:
        def train(self, config, hooks, console) -> TrainResult: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from harness.errors import HarnessError


@dataclass
class TrainResult:
    final_dir: Path
    log_history: list[dict] = field(default_factory=list)  # transformers' Trainer log entries
    model: Any = None  # the trained in-memory PEFT model (for the final rescoring)
    tokenizer: Any = None
    stats: dict = field(default_factory=dict)  # trainable/total parameters, tokens/s (harness/app/sweep.py compares them)


class TrainingHooks(Protocol):
    def on_start(self, model, tokenizer) -> None: ...

    def on_checkpoint(self, step: int, path: Path, model, tokenizer) -> dict[str, float] | None: ...


class Trainer(Protocol):
    def train(self, config, hooks: TrainingHooks, console) -> TrainResult: ...


_TRAINERS: dict[str, Callable[[], Trainer]] = {}


def register_trainer(name: str):
    def register(cls):
        _TRAINERS[name] = cls
        return cls

    return register


def get_trainer(name: str) -> Trainer:
    if name not in _TRAINERS:
        raise HarnessError(f"unknown trainer '{name}'; available: {', '.join(sorted(_TRAINERS))}")
    return _TRAINERS[name]()


def available_trainers() -> list[str]:
    return sorted(_TRAINERS)
