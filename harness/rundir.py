"""A run is a directory (schema in docs/run-directory.md):

    config.json     what was run: suite (version hash, per-task data hashes, generation settings),
                    models (weights/adapter hashes), chat template hash, package versions, invocation
    samples.jsonl   one record per (role, task, sample), appended and flushed as each finishes
    summary.json    metric -> {role: {value, n, ci, unscored}, delta: {...}}
    report.md       the same numbers, plus the side-by-side answers
"""

from __future__ import annotations

import json
import re
import time
from importlib import metadata
from pathlib import Path

from harness.errors import HarnessError
from harness.jsonl import JsonlAppender, iter_complete_rows

CONFIG, SAMPLES, SUMMARY, REPORT = "config.json", "samples.jsonl", "summary.json", "report.md"
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


def record_key(role: str, task: str, sample_id: str) -> tuple[str, str, str]:
    return (role, task, sample_id)
