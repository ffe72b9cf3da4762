"""Loss-curve diagnosis: the four curve patterns of docs/lab1.md ("Reading the loss curve").

healthy      train loss falls, eval loss follows
overfitting  eval loss rises again while train loss keeps falling: stop at the best eval step
unstable     the loss swings up and down (or falls, then climbs back): lower the learning rate
flat         the loss hardly moves: check the chat template and the loss mask (or raise the LR)

Per-batch train losses are noisy (a batch of short JSON answers and one of long tables differ a
lot), so the train curve is read through a moving average, and the eval loss, measured on the same
examples each time, has the last word where there are enough eval points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLAT_DROP = 0.05  # smoothed train loss fell by less than 5% from the first to the last fifth
EVAL_FLAT_DROP = 0.02  # eval loss fell by less than 2% overall
OVERFIT_RISE = 0.03  # final eval loss 3% above its minimum
UNSTABLE_SWING = 0.12  # mean step change of the smoothed loss, relative to the loss level
REBOUND = 1.25  # the smoothed loss ends 25% above its low


@dataclass
class Diagnosis:
    kind: str  # healthy | overfitting | unstable | flat | too_short
    message: str
    best_step: int | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "best_step": self.best_step}


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(x) < window:
        return x
    return np.convolve(x, np.ones(window) / window, mode="valid")


def smoothed(train: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The train curve as the diagnosis reads it (and the loss plot draws it): a trailing moving
    average over 3 logged losses (from 10 logged points on), each value at its window's last step.
    It damps batch-to-batch noise and keeps real swings."""
    if not train:
        return []
    window = 3 if len(train) >= 10 else 1
    values = moving_average(np.array([v for _, v in train], dtype=float), window)
    return list(zip([s for s, _ in train][window - 1:], values.tolist()))


def diagnose(train: list[tuple[int, float]], evals: list[tuple[int, float]] | None = None) -> Diagnosis:
    evals = evals or []
    if len(train) < 5:
        return Diagnosis("too_short", f"only {len(train)} logged training losses: too few to read a curve (lower logging_steps)")
    raw = np.array([v for _, v in train], dtype=float)
    loss = np.array([v for _, v in smoothed(train)])
    fifth = max(1, len(loss) // 5)
    start, end = loss[:fifth].mean(), loss[-fifth:].mean()
    drop = (start - end) / start if start else 0.0
    ev = np.array([v for _, v in evals], dtype=float)
    best_step = evals[int(np.argmin(ev))][0] if len(ev) else None

    if len(ev) >= 4 and _swings(ev):
        return Diagnosis("unstable", "the eval loss goes up and down between evaluations: lower the learning rate (e.g. 5e-5 -> 1e-5)", best_step)
    if len(ev) >= 3:
        best = int(np.argmin(ev))
        if best < len(ev) - 1 and ev[-1] > ev[best] * (1 + OVERFIT_RISE) and drop > 0:
            return Diagnosis(
                "overfitting",
                f"eval loss rose from {ev[best]:.3f} at step {best_step} to {ev[-1]:.3f} while train loss kept falling: "
                f"overfitting; use the checkpoint at step {best_step}, or fewer epochs / more dropout",
                best_step=best_step,
            )

    swing = np.abs(np.diff(loss)).mean() / max(loss.mean(), 1e-8)
    rebound = end > loss.min() * REBOUND and int(loss.argmin()) < len(loss) - fifth
    eval_falls = len(ev) >= 2 and ev[-1] < ev[0] * (1 - EVAL_FLAT_DROP) and ev[-1] <= ev.min() * (1 + OVERFIT_RISE)
    if (swing > UNSTABLE_SWING or rebound) and not eval_falls:
        why = f"the loss swings (mean step change {swing:.0%} of the loss)" if swing > UNSTABLE_SWING else "the loss fell, then climbed back"
        return Diagnosis("unstable", f"{why}: lower the learning rate (e.g. 5e-5 -> 1e-5)", best_step)
    if drop < FLAT_DROP and not eval_falls:
        return Diagnosis(
            "flat",
            f"train loss fell only {drop:.1%} ({start:.3f} -> {end:.3f}): check the chat template and the loss mask "
            "(harness mask-audit), then the learning rate or the number of steps",
            best_step,
        )
    noisy = np.abs(np.diff(raw)).mean() / raw.mean()
    parts = [f"train loss {start:.3f} -> {end:.3f} ({-drop:+.0%} smoothed)"]
    if len(ev) >= 2:
        parts.append(f"eval loss {ev[0]:.3f} -> {ev[-1]:.3f}")
    if noisy > UNSTABLE_SWING:
        parts.append("the per-batch train loss is noisy; the eval loss is the steadier guide")
    return Diagnosis("healthy", "; ".join(parts), best_step)


SMOKE_DROP = 0.02  # the smoke test wants the smoothed train loss at least 2% lower at the end


def loss_falls(train: list[tuple[int, float]]) -> tuple[bool, str]:
    """The smoke test's question before a long run: does the train loss fall over the first steps?
    (first third vs last third of the smoothed curve; a loss that does not fall points at the data
    format, the loss mask or the learning rate, and a full run would waste its time)."""
    pts = [(s, v) for s, v in smoothed(train) if np.isfinite(v)]
    if len(pts) < 2 or len(pts) < len(smoothed(train)):
        return False, f"{len(train)} logged train losses, {len(pts)} finite: too few to tell (lower logging_steps)"
    third = max(1, len(pts) // 3)
    first, last = np.mean([v for _, v in pts[:third]]), np.mean([v for _, v in pts[-third:]])
    change = (last - first) / first if first else 0.0
    text = f"train loss {first:.3f} -> {last:.3f} ({change:+.1%}) over steps {pts[0][0]}-{pts[-1][0]}"
    if -change < SMOKE_DROP:
        return False, f"{text}: it does not fall; check the data format and mask (harness mask-audit), then the learning rate"
    return True, text


def _swings(ev: np.ndarray) -> bool:
    """At least two changes of direction, each move over 5% of the level."""
    moves = np.diff(ev)
    big = moves[np.abs(moves) > 0.05 * ev.mean()]
    return int((np.diff(np.sign(big)) != 0).sum()) >= 2
