"""A run is a directory (schema in docs/run-directory.md):

    config.json     what was run: suite (version hash, per-task data hashes, generation settings),
                    models (weights/adapter hashes), chat template hash, package versions, invocation
    samples.jsonl   one record per (role, task, sample), appended and flushed as each finishes
    summary.json    metric -> {role: {value, n, ci, unscored}, delta: {...}}
    report.md       the same numbers, plus the side-by-side answers
    judge.jsonl     runs with --judge: one line per judgment (the verdict file, docs/judge.md)
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from importlib import metadata
from pathlib import Path

from harness.errors import HarnessError
from harness.jsonl import JsonlAppender, iter_complete_rows

CONFIG, SAMPLES, SUMMARY, REPORT, JUDGE = "config.json", "samples.jsonl", "summary.json", "report.md", "judge.jsonl"
_VERSIONED = ["sft-harness", "torch", "transformers", "peft", "trl", "accelerate", "jsonschema", "openai"]


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def create(cls, root: Path, suite: str, model_name: str) -> "RunDir":
        stamp = time.strftime("%Y%m%d-%H%M%S")
        safe_suite = re.sub(r"[^\w.-]+", "_", suite)
        base = f"{stamp}-{safe_suite}-{model_name}"
        path = Path(root) / base
        n = 1
        while path.exists():  # two runs in the same second
            n += 1
            path = Path(root) / f"{base}-{n}"
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def open_existing(cls, path: str | Path) -> "RunDir":
        run = cls(Path(path))
        if not (run.path / CONFIG).is_file():
            raise HarnessError(f"{path}: not a run directory (no {CONFIG}); give the directory a run printed")
        return run

    # config
    def write_config(self, config: dict) -> None:
        (self.path / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def config(self) -> dict:
        return json.loads((self.path / CONFIG).read_text(encoding="utf-8"))

    # samples
    def records(self) -> list[dict]:
        return list(iter_complete_rows(self.path / SAMPLES))

    def appender(self) -> JsonlAppender:
        return JsonlAppender(self.path / SAMPLES)

    def rewrite_records(self, records: list[dict]) -> None:
        """Replace samples.jsonl at once (the judge phase adds its scores to finished records)."""
        _write_jsonl_atomically(self.path / SAMPLES, records)

    # judge verdicts
    def write_judgments(self, rows: list[dict]) -> None:
        _write_jsonl_atomically(self.path / JUDGE, rows)

    def judgments(self) -> list[dict] | None:
        """judge.jsonl's rows, or None for a run without a judge."""
        f = self.path / JUDGE
        return list(iter_complete_rows(f)) if f.is_file() else None

    # results
    def write_summary(self, summary: dict) -> None:
        (self.path / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def summary(self) -> dict:
        f = self.path / SUMMARY
        if not f.is_file():
            raise HarnessError(f"{self.path}: no {SUMMARY} (the run did not finish; finish it with --resume)")
        return json.loads(f.read_text(encoding="utf-8"))

    def write_report(self, text: str) -> None:
        (self.path / REPORT).write_text(text, encoding="utf-8")


def _write_jsonl_atomically(path: Path, rows: list[dict]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    if path.exists():  # keep the file's permissions (mkstemp makes it private)
        os.chmod(tmp, path.stat().st_mode & 0o777)
    else:
        os.chmod(tmp, 0o644)
    os.replace(tmp, path)
