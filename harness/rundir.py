"""A run is a directory (schema in docs/run-directory.md):

    config.json     what was run: suite (version hash, per-task data hashes, generation settings,
                    scorers with versions), metric definitions, models (weights/adapter hashes),
                    chat template hash, package versions, invocation; format_version
    samples.jsonl   one SampleRecord per (role, task, sample): the answers, appended as each finishes
    scores.jsonl    one ScoreRecord per (sample record, scorer), appended as each is scored
    summary.json    metric -> {role: {value, n, ci, unscored}, delta: {...}}
    report.md       the same numbers, plus the side-by-side answers
    judge.jsonl     runs with --judge: one line per judgment (derived from scores.jsonl, for
                    `harness judge-agreement`; docs/judge.md)

Run directories of format 1 (before scoring was its own stage) are read as they are: their
samples.jsonl lines carry the scores, and are split on reading (harness.records).
"""

from __future__ import annotations

import json
import re
import time
from importlib import metadata
from pathlib import Path

from harness.errors import HarnessError
from harness.io.jsonl import JsonlAppender, iter_complete_rows
from harness.io.writes import atomic_write_text, check_writable_dir, write_refused
from harness.records import RUN_FORMAT_VERSION, MetricDef, SampleRecord, ScoreRecord, join_scores, split_legacy_record

CONFIG, SAMPLES, SCORES, SUMMARY, REPORT, JUDGE = (
    "config.json", "samples.jsonl", "scores.jsonl", "summary.json", "report.md", "judge.jsonl")
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
        try:
            path.mkdir(parents=True)
        except OSError as e:
            raise write_refused(path, e, "choose another --runs-dir") from None
        return cls(path)

    @classmethod
    def open_existing(cls, path: str | Path) -> "RunDir":
        run = cls(Path(path))
        if not (run.path / CONFIG).is_file():
            raise HarnessError(f"{path}: not a run directory (no {CONFIG}); give the directory a run printed")
        return run

    # config
    def write_config(self, config: dict) -> None:
        config = {"format_version": RUN_FORMAT_VERSION, **config}
        self._write(CONFIG, json.dumps(config, indent=2, ensure_ascii=False) + "\n")

    def config(self) -> dict:
        return json.loads((self.path / CONFIG).read_text(encoding="utf-8"))

    def check_writable(self) -> None:
        """Before resuming: the directory must take new files (HarnessError, one line, otherwise)."""
        check_writable_dir(self.path, "the run directory")

    @property
    def resume_hint(self) -> str:
        return f"finish the run with: harness run --resume {self.path}"

    def _write(self, name: str, text: str) -> None:
        atomic_write_text(self.path / name, text, then=self.resume_hint)

    @property
    def legacy(self) -> bool:
        """Written before scoring was its own stage (scores inside samples.jsonl)."""
        return self.config().get("format_version", 1) < 2

    def metric_definitions(self) -> list[MetricDef] | None:
        """The metric definitions stored with the run (None for a format-1 run, which has none)."""
        stored = self.config().get("metric_definitions")
        return None if stored is None else [MetricDef.from_dict(n, d) for n, d in stored.items()]

    # answers
    def records(self) -> list[SampleRecord]:
        rows = iter_complete_rows(self.path / SAMPLES)
        if self.legacy:
            return [split_legacy_record(row)[0] for row in rows]
        return [SampleRecord.from_dict(row) for row in rows]

    def appender(self) -> JsonlAppender:
        return JsonlAppender(self.path / SAMPLES, then=self.resume_hint)

    # scores
    def score_records(self) -> list[ScoreRecord]:
        if self.legacy:
            return [sr for row in iter_complete_rows(self.path / SAMPLES) for sr in split_legacy_record(row)[1]]
        return [ScoreRecord.from_dict(row) for row in iter_complete_rows(self.path / SCORES)]

    def score_appender(self) -> JsonlAppender:
        return JsonlAppender(self.path / SCORES, then=self.resume_hint)

    def scored(self) -> list[SampleRecord]:
        """The answers with every score entry joined onto them."""
        return join_scores(self.records(), self.score_records())

    # judge verdicts (a derived view of the judge scorers' details)
    def write_judgments(self, rows: list[dict]) -> None:
        self._write(JUDGE, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))

    def judgments(self) -> list[dict] | None:
        """One row per judgment, or None for a run without a judge."""
        if self.legacy:
            f = self.path / JUDGE
            return list(iter_complete_rows(f)) if f.is_file() else None
        rows = {}  # a later judgment of the same record (after a judge outage) replaces the failed one
        for sr in self.score_records():
            if sr.details and "judgment" in sr.details:
                rows[(sr.key, sr.scorer)] = sr.details["judgment"]
        return list(rows.values()) or None

    # results
    def write_summary(self, summary: dict) -> None:
        self._write(SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")

    def summary(self) -> dict:
        f = self.path / SUMMARY
        if not f.is_file():
            raise HarnessError(f"{self.path}: no {SUMMARY} (the run did not finish; finish it with --resume)")
        return json.loads(f.read_text(encoding="utf-8"))

    def write_report(self, text: str) -> None:
        self._write(REPORT, text)

