"""The evidence a lab report is built and graded from: what a training directory, a run directory
and a sweep directory hold, read through TrainingDir, RunDir and load_sweep, plus the list of
files read (so the report folder can carry copies, and the grade their sha256).

The same function reads the originals (`harness report`) and the copies under a report folder's
evidence/ (`harness grade`): the copies keep the originals' layout.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.records import SampleRecord
from harness.rundir import CONFIG, SAMPLES, SCORES, SUMMARY, RunDir
from harness.suite import load_suite
from harness.lab.sweep_plan import PLAN_FILE
from harness.lab.sweep_results import SweepResults, load_sweep
from harness.lab.training_dir import CONFIG as TRAIN_CONFIG, SCORES as TRAIN_SCORES, SUMMARY as TRAIN_SUMMARY
from harness.lab.training_dir import TrainingDir, loss_points

RUN_FILES = (CONFIG, SUMMARY, SAMPLES, SCORES)
TRAIN_FILES = (TRAIN_CONFIG, TRAIN_SUMMARY, TRAIN_SCORES, "mask_audit.json")


@dataclass
class TrainingEvidence:
    path: str
    config: dict | None
    summary: dict | None
    checkpoint_scores: list[dict]
    log_file: str | None  # the checkpoint trainer_state.json the curve is checked against
    log_history: list[dict]
    final_run: RunDir | None

    @property
    def train_loss(self) -> list[tuple[int, float]]:
        return [tuple(p) for p in (self.summary or {}).get("train_loss", [])]

    @property
    def eval_loss(self) -> list[tuple[int, float]]:
        return [tuple(p) for p in (self.summary or {}).get("eval_loss", [])]

    def log_points(self):
        return loss_points(self.log_history)


@dataclass
class RunEvidence:
    path: str
    config: dict
    summary: dict | None
    records: list[SampleRecord]  # scores joined

    def answers(self, task: str) -> dict[str, dict[str, SampleRecord]]:
        """sample id -> role -> record, for one task."""
        out: dict[str, dict[str, SampleRecord]] = {}
        for r in self.records:
            if r.task == task:
                out.setdefault(r.id, {})[r.role] = r
        return out

    @property
    def adapter_hash(self) -> str | None:
        return ((self.config.get("models") or {}).get("checkpoint") or {}).get("adapter_hash")


@dataclass
class LabEvidence:
    lab: str  # the suite the lab's prompts come from
    prompts_task: str
    prompts: list[dict]  # the lab's prompts, verbatim: {id, prompt}
    training: TrainingEvidence | None = None
    run: RunEvidence | None = None
    sweep: SweepResults | None = None
    sources: dict[str, str] = field(default_factory=dict)  # part -> the directory it was read from
    files: dict[str, Path] = field(default_factory=dict)  # evidence-relative path -> file read
    problems: dict[str, str] = field(default_factory=dict)  # part -> why it could not be read


def lab_prompts(suite: str, task: str) -> list[dict]:
    loaded = load_suite(suite, tasks=[task])
    return [{"id": s["id"], "prompt": s.get("prompt")} for s in loaded.tasks[task].samples]


def _require_dir(path: str, flag: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise HarnessError(f"{flag} {path}: no such directory (check the path)")
    return p


def collect(suite: str, prompts_task: str, *, train: str | None = None, run: str | None = None,
            sweep: str | None = None, prompts: list[dict] | None = None) -> LabEvidence:
    """Read what is there. A path that does not exist is bad input (an error); a directory that
    exists but lacks a file is evidence of what is missing (recorded in `problems`). `prompts`:
    the lab's prompts when the caller has them already (a class grade loads the suite once)."""
    ev = LabEvidence(suite, prompts_task, prompts if prompts is not None else lab_prompts(suite, prompts_task))
    if train:
        d = TrainingDir(_require_dir(train, "--train"))
        ev.sources["train"] = train
        ev.training = _training(d, "train", ev.files)
        if ev.training.summary is None:
            ev.problems["train"] = f"{train}: no {TRAIN_SUMMARY} (training did not finish)"
    if run:
        rd = RunDir(_require_dir(run, "--run"))
        if not (rd.path / CONFIG).is_file():
            raise HarnessError(f"--run {run}: not a run directory (no {CONFIG}); give a directory `harness run` printed")
        _add(ev.files, "run", rd.path, RUN_FILES)
    elif ev.training is not None and ev.training.final_run is not None:
        rd = ev.training.final_run  # the training's own final run (its files are copied with the training's)
    else:
        rd = None
    if rd is not None:
        ev.sources["run"] = str(rd.path)
        ev.run = RunEvidence(str(rd.path), rd.config(), rd.summary() if (rd.path / SUMMARY).is_file() else None, rd.scored())
    if sweep:
        root = _require_dir(sweep, "--sweep")
        ev.sources["sweep"] = sweep
        if not (root / PLAN_FILE).is_file():
            raise HarnessError(f"--sweep {sweep}: not a sweep directory (no {PLAN_FILE}); give the --out of `harness sweep`")
        ev.sweep = load_sweep(root)
        ev.files[f"sweep/{PLAN_FILE}"] = root / PLAN_FILE
        for v in ev.sweep.variants:
            if (root / v.name).is_dir():
                _training(TrainingDir(root / v.name), f"sweep/{v.name}", ev.files)
    return ev


def _training(d: TrainingDir, prefix: str, files: dict[str, Path]) -> TrainingEvidence:
    log_file, log = d.trainer_log()
    final = d.final_run()
    _add(files, prefix, d.path, TRAIN_FILES)
    if log_file is not None:
        files[f"{prefix}/{log_file.parent.name}/{log_file.name}"] = log_file
    if final is not None:
        _add(files, f"{prefix}/evals/{final.path.name}", final.path, RUN_FILES)
    return TrainingEvidence(str(d.path), d.config(), d.summary(), d.checkpoint_scores(),
                            f"{log_file.parent.name}/{log_file.name}" if log_file else None, log, final)


def _add(files: dict[str, Path], prefix: str, folder: Path, names) -> None:
    for name in names:
        if (folder / name).is_file():
            files[f"{prefix}/{name}"] = folder / name


def copy_evidence(ev: LabEvidence, dest: Path) -> dict[str, str]:
    """Copy every file read into `dest` (same layout); returns relative path -> sha256 of the copy."""
    # Copied beside it first and swapped in: the sources may be an earlier copy in `dest` itself,
    # and an old copy must not mix with this one.
    staging = dest.with_name(f".{dest.name}.new")
    if staging.exists():
        shutil.rmtree(staging)
    hashes = {}
    for rel, src in sorted(ev.files.items()):
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        hashes[rel] = file_sha256(target)
    staging.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return hashes


def evidence_parts(folder: Path) -> dict[str, str | None]:
    """Where the parts lie in a report folder's evidence/ copy (None: not handed in)."""
    ev = folder / "evidence"
    return {"train": str(ev / "train") if (ev / "train").is_dir() else None,
            "run": str(ev / "run") if (ev / "run").is_dir() else None,
            "sweep": str(ev / "sweep") if (ev / "sweep").is_dir() else None}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def digest(hashes: dict[str, str]) -> str:
    """One sha256 over every graded file's path and sha256: quote it to pin a hand-in."""
    return hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()
