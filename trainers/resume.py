"""Where a killed training run continues: `resume_from_checkpoint` (`harness train --resume`,
or `--resume-from-checkpoint DIR`).

A checkpoint directory is complete once its trainer_state.json is written (transformers writes it
last, after the weights, optimizer, scheduler and RNG states), so a checkpoint half-written when
the process died is passed over for the one before it.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

from harness.errors import HarnessError, HarnessWarning

_STEP = re.compile(r"^checkpoint-(\d+)$")
STATE = "trainer_state.json"


def checkpoints(output_dir: str | Path) -> list[Path]:
    """checkpoint-<step> directories, by step."""
    out = Path(output_dir)
    found = [p for p in out.iterdir() if p.is_dir() and _STEP.match(p.name)] if out.is_dir() else []
    return sorted(found, key=lambda p: int(_STEP.match(p.name).group(1)))


def resume_point(resume: bool | str | None, output_dir: str | Path) -> str | None:
    """The checkpoint to continue from (`resume_from_checkpoint`: true = the last complete one in
    output_dir, or a path), checked to hold what resuming needs; None to start from scratch."""
    if not resume:
        return None
    if resume is True:
        found = checkpoints(output_dir)
        complete = [p for p in found if (p / STATE).is_file()]
        if not complete:
            raise HarnessError(f"--resume: no complete checkpoint-<step> directory in {output_dir}; "
                               "start the training without --resume")
        for p in found:
            if p not in complete and _step(p) > _step(complete[-1]):
                warnings.warn(f"{p} was cut short (no {STATE}, the process died while saving it); "
                              f"resuming from {complete[-1].name}", HarnessWarning, stacklevel=2)
        path = complete[-1]
    else:
        path = Path(resume)
        if not (path / STATE).is_file():
            raise HarnessError(f"resume_from_checkpoint {resume}: not a complete training checkpoint (no {STATE}); "
                               f"give a checkpoint-<step> directory, or true for the last one in {output_dir}")
    if not any((path / f).is_file() for f in ("optimizer.pt", "optimizer.bin")):
        raise HarnessError(f"resume_from_checkpoint {path}: no optimizer state (saved with save_only_model); "
                           "resuming would restart the optimizer. Train anew from its weights instead")
    return str(path)


def _step(path: Path) -> int:
    return int(_STEP.match(path.name).group(1))


_TRAINING_STATE_FILES = {"optimizer.pt", "scheduler.pt", "rng_state.pth", STATE, "scaler.pt"}


def finished_state(checkpoint: str | None, max_steps: int) -> dict | None:
    """The checkpoint's trainer state when it is the end of training (nothing left to train at
    `max_steps`, or at the state's own step count for an epoch-based run); else None. Resuming a
    finished run must not train on: transformers would take one more step."""
    if checkpoint is None:
        return None
    state = json.loads((Path(checkpoint) / STATE).read_text(encoding="utf-8"))
    target = max_steps if max_steps > 0 else int(state.get("max_steps", 0))
    return state if target and state["global_step"] >= target else None


def final_from(checkpoint: str | Path, final_dir: Path) -> Path:
    """final/ of a run that finished training: the last checkpoint's adapter and tokenizer files
    (the same weights `save_model` writes), when the kill came before final/ was written."""
    if not (final_dir / "adapter_config.json").is_file():
        tmp = final_dir.with_name(final_dir.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(checkpoint, tmp, ignore=lambda d, names: [n for n in names if n in _TRAINING_STATE_FILES])
        shutil.rmtree(final_dir, ignore_errors=True)
        tmp.rename(final_dir)
    return final_dir
