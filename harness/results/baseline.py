"""Baseline files: a finished run, self-contained in one JSON file, to gate later runs against.

`harness baseline save RUN --out FILE` keeps what a paired comparison needs, so the gate works
from a committed file without the old run directory (or its suite file):

    format, format_version        "sft-harness-baseline", 2
    created, source_run
    suite                         name, version, tasks.<task>: {data_hash, n_samples, scorers}
    metric_definitions.<metric>   task (null: pooled), score, where, higher_is_better, roles, aggregate
    roles, models                 as in summary.json
    metrics                       summary.json "metrics"
    samples                       [{role, task, id, prompt, sample, output, finish_reason,
                                    scores.<score id>: {value, label, weight}}]

The answers travel with the scores, so a baseline can be rescored (`harness rescore FILE --out
NEW`). Format 1 files (scores only; perplexity as nll_sum/n_tokens) are still read.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema

from harness.errors import HarnessError
from harness.io.writes import atomic_write_text
from harness.records import AGGREGATES, MetricDef, SampleRecord, Score, join_scores, split_legacy_record
from harness.results.snapshot import Snapshot, from_run_dir

FORMAT = "sft-harness-baseline"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)

_NUMBER_OR_NULL = {"type": ["number", "null"]}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["format", "format_version", "suite", "metric_definitions", "roles", "metrics", "samples"],
    "properties": {
        "suite": {
            "type": "object",
            "required": ["name", "version", "tasks"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "tasks": {"type": "object", "additionalProperties": {
                    "type": "object", "required": ["data_hash"], "properties": {"data_hash": {"type": "string"}}}},
            },
        },
        "metric_definitions": {"type": "object", "additionalProperties": {
            "type": "object",
            "required": ["task", "where", "higher_is_better"],
            "anyOf": [{"required": ["score"]}, {"required": ["scorer"]}],
            "properties": {"task": {"type": ["string", "null"]}, "score": {"type": "string"}, "scorer": {"type": "string"},
                           "where": {"type": "object"}, "higher_is_better": {"type": "boolean"},
                           "aggregate": {"enum": list(AGGREGATES)}},
        }},
        "roles": {"type": "array", "items": {"enum": ["base", "ckpt"]}, "minItems": 1},
        "models": {"type": "object"},
        "metrics": {"type": "object", "additionalProperties": {
            "type": "object",
            "required": ["higher_is_better"],
            "additionalProperties": {"type": "object", "required": ["value", "n"],
                                     "properties": {"value": _NUMBER_OR_NULL, "n": {"type": "integer"}}},
            "properties": {"higher_is_better": {"type": "boolean"}},
        }},
        "samples": {"type": "array", "items": {
            "type": "object",
            "required": ["role", "task", "id"],
            "properties": {
                "role": {"enum": ["base", "ckpt"]}, "task": {"type": "string"}, "id": {"type": "string"},
                "prompt": {"type": ["string", "null"]}, "sample": {"type": "object"},
                "scores": {"type": "object", "additionalProperties": {
                    "type": "object", "required": ["value"],
                    "properties": {"value": _NUMBER_OR_NULL, "weight": _NUMBER_OR_NULL}}},
                "nll_sum": {"type": "number"}, "n_tokens": {"type": "integer", "minimum": 0},
                "n_bytes": {"type": "integer", "minimum": 0},
            },
        }},
    },
}


def save_baseline(run_dir: str | Path, out: str | Path) -> Path:
    out = Path(out)
    if out.is_dir():
        raise HarnessError(f"--out {out} is a directory; give a file name, e.g. {out / 'lab1.json'}")
    snap = from_run_dir(run_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(baseline_dict(snap), indent=1, ensure_ascii=False) + "\n")
    return out


def baseline_dict(snap: Snapshot) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "source_run": snap.source,
        "rescored_from": snap.rescored_from,
        "conditions": snap.conditions,
        "suite": {
            "name": snap.suite_name,
            "version": snap.suite_version,
            "tasks": {t: {"data_hash": h, "n_samples": _count(snap, t),
                          "scorers": {k.split("/", 1)[1]: v for k, v in snap.scorers.items() if k.split("/", 1)[0] == t}}
                      for t, h in snap.data_hashes.items()},
        },
        "metric_definitions": {name: d.to_dict() for name, d in snap.definitions.items()},
        "roles": snap.roles,
        "models": snap.models,
        "metrics": snap.metrics,
        "samples": [_sample(r) for r in snap.records],
    }


def _count(snap: Snapshot, task: str) -> int:
    return len({r.id for r in snap.records if r.task == task})


def _sample(record: SampleRecord) -> dict:
    """What metrics are computed from, and the answer itself (so the file can be rescored)."""
    out = {k: v for k, v in record.to_dict().items() if k not in {"raw", "model", "prompt_tokens", "completion_tokens"}}
    out["scores"] = {sid: s.to_dict() for sid, s in record.scores.items()}
    return out


def read_baseline(path: str | Path) -> Snapshot:
    path = Path(path)
    remake = "make it again with `harness baseline save RUN --out FILE`"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise HarnessError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); a baseline file is JSON, {remake}") from None
    except UnicodeDecodeError:
        raise HarnessError(f"{path}: not a baseline file (not UTF-8 text); {remake}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise HarnessError(f"{path}: not a baseline file (no \"format\": \"{FORMAT}\"); give a run directory or {remake}")
    if doc.get("format_version") not in READABLE_VERSIONS:
        raise HarnessError(
            f"{path}: baseline format_version {doc.get('format_version')!r}, this harness reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}; {remake}"
        )
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "top level"
        raise HarnessError(f"{path}: not a valid baseline file: at {at}: {error.message}; {remake}")
    return Snapshot(
        source=str(path),
        suite_name=doc["suite"]["name"],
        suite_version=doc["suite"]["version"],
        data_hashes={t: v["data_hash"] for t, v in doc["suite"]["tasks"].items()},
        definitions={name: MetricDef.from_dict(name, d) for name, d in doc["metric_definitions"].items()},
        roles=doc["roles"],
        models=doc.get("models", {}),
        metrics=doc["metrics"],
        records=[_record(row, doc["format_version"]) for row in doc["samples"]],
        scorers={f"{t}/{sid}": spec for t, v in doc["suite"]["tasks"].items() for sid, spec in v.get("scorers", {}).items()},
        rescored_from=doc.get("rescored_from"),
        conditions=doc.get("conditions") or {},  # older baseline files: unknown
    )


def _record(row: dict, version: int) -> SampleRecord:
    row = {"model": "", "prompt": None, "sample": {}, **row}
    if version == 1:
        record, score_records = split_legacy_record(row)
        return join_scores([record], score_records)[0]
    record = SampleRecord.from_dict(row)
    record.scores = {sid: Score.from_dict(s) for sid, s in row.get("scores", {}).items()}
    return record


def load_snapshot(path: str | Path) -> Snapshot:
    """A run directory or a baseline file (JSON from `harness baseline save`)."""
    p = Path(path)
    if p.is_dir():
        return from_run_dir(p)
    if p.is_file():
        return read_baseline(p)
    raise HarnessError(f"{path}: no such run directory or baseline file (check the path)")
