"""Loss-curve diagnosis following seed 001's patterns and table.

healthy      train loss falls smoothly, eval loss follows
overfitting  eval loss rises again while train loss keeps falling: stop at the best eval step
unstable     the loss oscillates (or falls, then climbs back): lower the learning rate
flat         the loss hardly moves: check the chat template and the loss mask (or raise the LR)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLAT_DROP = 0.05  # train loss fell by less than 5% from the first to the last fifth
OVERFIT_RISE = 0.03  # final eval loss 3% above its minimum
UNSTABLE_NOISE = 0.12  # step-to-step wiggle relative to the loss level


@dataclass
class Diagnosis:
    kind: str  # healthy | overfitting | unstable | flat | too_short
    message: str
    best_step: int | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "best_step": self.best_step}


def diagnose(train: list[tuple[int, float]], evals: list[tuple[int, float]] | None = None) -> Diagnosis:
    evals = evals or []
    if len(train) < 5:
        return Diagnosis("too_short", f"only {len(train)} logged training losses: too few to read a curve (lower logging_steps)")
    loss = np.array([v for _, v in train], dtype=float)
    fifth = max(1, len(loss) // 5)
    start, end = loss[:fifth].mean(), loss[-fifth:].mean()
    drop = (start - end) / start if start else 0.0

    if len(evals) >= 3:
        ev = np.array([v for _, v in evals], dtype=float)
        best = int(np.argmin(ev))
        if best < len(ev) - 1 and ev[-1] > ev[best] * (1 + OVERFIT_RISE) and drop > 0:
            step = evals[best][0]
            return Diagnosis(
                "overfitting",
                f"eval loss rose from {ev[best]:.3f} at step {step} to {ev[-1]:.3f} while train loss kept falling: "
                f"overfitting; use the checkpoint at step {step}, or fewer epochs / more dropout",
                best_step=step,
            )

    wiggle = np.abs(np.diff(loss)).mean() / max(loss.mean(), 1e-8)
    rebound = loss[-fifth:].mean() > loss.min() * 1.25 and loss.argmin() < len(loss) - fifth
    if wiggle > UNSTABLE_NOISE or rebound:
        why = "the loss oscillates" if wiggle > UNSTABLE_NOISE else "the loss fell, then climbed back"
        return Diagnosis("unstable", f"{why} (mean step change {wiggle:.0%} of the loss): lower the learning rate (e.g. 5e-5 -> 1e-5)")
    if drop < FLAT_DROP:
        return Diagnosis(
            "flat",
            f"train loss fell only {drop:.1%} ({start:.3f} -> {end:.3f}): check the chat template and the loss mask "
            "(harness mask-audit), then the learning rate",
        )
    best = None
    if evals:
        best = evals[int(np.argmin([v for _, v in evals]))][0]
    return Diagnosis("healthy", f"train loss fell {drop:.0%} ({start:.3f} -> {end:.3f}) smoothly; eval loss follows", best_step=best)
