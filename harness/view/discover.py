"""What lies under the folders `harness view` was given: run directories, training directories
(`harness train`'s, or any trainer's checkpoints that `harness watch` rescored), sweeps and lab
report folders, found by the files each kind always has."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

RUN, TRAINING, SWEEP, LAB = "run", "training", "sweep", "lab"
MAX_DEPTH = 6  # runs/, out/<train>/evals/<run>, sweeps/<sweep>/<variant>/evals/<run>
SKIP = {"checkpoint", "final", "evidence", "node_modules", "__pycache__"}  # adapters and copies, not results


@dataclass(frozen=True)
class Entry:
    kind: str  # run | training | sweep | lab
    path: Path


def kind_of(path: Path) -> str | None:
    names = set(os.listdir(path)) if path.is_dir() else set()
    if "sweep.json" in names:
        return SWEEP
    if "grade.json" in names:
        return LAB
    if "train_config.yaml" in names or "training_summary.json" in names:
        return TRAINING
    if "config.json" in names and "samples.jsonl" in names:
        return RUN
    if "scores.jsonl" in names and any(n.startswith("checkpoint-") for n in names):
        return TRAINING  # another trainer's output that `harness watch` rescores
    return None


def discover(folders: list[str | Path]) -> list[Entry]:
    """Every result folder under `folders` (a folder given may itself be one), sorted by kind then
    path; runs newest first (their names start with the date)."""
    found: list[Entry] = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise HarnessError(f"{folder}: no such folder; give folders holding run directories (e.g. runs/)")
        _walk(root, 0, found)
    seen, out = set(), []
    for e in found:
        if e.path.resolve() not in seen:
            seen.add(e.path.resolve())
            out.append(e)
    runs = sorted((e for e in out if e.kind == RUN), key=lambda e: e.path.name, reverse=True)
    return runs + sorted((e for e in out if e.kind != RUN), key=lambda e: (e.kind, str(e.path)))


def _walk(path: Path, depth: int, found: list[Entry]) -> None:
    kind = kind_of(path)
    if kind is not None:
        found.append(Entry(kind, path))
        if kind == RUN:
            return  # a run directory holds no other results
    if depth >= MAX_DEPTH:
        return
    try:
        children = sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        return
    for child in children:
        if child.name.startswith(".") or child.name.split("-")[0] in SKIP:
            continue
        _walk(child, depth + 1, found)
