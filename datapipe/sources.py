"""Reading one source and normalising it into an Arrow file.

One pass per source: each row is read, normalised (or given the reason it cannot be), and
appended to an Arrow file in the build's work folder 1,000 rows at a time, so memory stays flat
in the number of rows. JSONL is read line by line in binary, which keeps exact line numbers and
lets one malformed line (not UTF-8, not JSON) be rejected with its reason instead of failing the
whole file; a `.json` file holds JSON Lines or one array of objects (read whole: use JSONL for
large files); CSV columns are read as text (`datasets`' CSV reader); hub datasets need a
reachable hub. Each row comes out with a status: `ok`, `rejected` (with the reason) or `blank`
(an empty line, not a row).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from datasets import Dataset, DatasetInfo, Features, List, Value, load_dataset

from datapipe.normalize import Normalized, normalize_row
from datapipe.recipe import SourceSpec
from harness.errors import HarnessError

BATCH = 1000

# The columns of a source after normalisation (messages and tools as JSON text: one Arrow type
# for every row, whatever the tool schemas look like).
NORMALIZED = Features({
    "status": Value("string"),
    "reason": Value("string"),
    "where": Value("string"),
    "raw": Value("string"),  # rejected rows only: the row as read, for the rejects file
    "id": Value("string"),
    "source": Value("string"),
    "messages": Value("string"),
    "tools": Value("string"),
    "message_keys": List(Value("string")),
    "tags": List(Value("string")),
    "hash": Value("string"),
})

_BLANK = object()  # an empty line: not a row


class _Unreadable:
    def __init__(self, reason: str):
        self.reason = reason


def read_normalized(spec: SourceSpec, work: Path, display: str) -> Dataset:
    """The source's rows in the schema's columns (NORMALIZED), each with its status."""
    path = work / f"{spec.name}.normalized.arrow"
    schema = NORMALIZED.arrow_schema
    with pa.ipc.new_stream(str(path), schema) as writer:
        out = {name: [] for name in NORMALIZED}
        for where, number, text, row in _rows(spec, display, work):
            reason, record = None, None
            if isinstance(row, _Unreadable):
                reason = row.reason
            elif row is not _BLANK:
                result = normalize_row(row, spec.format, spec.fields, spec.tags, spec.max_chars)
                record, reason = (result, None) if isinstance(result, Normalized) else (None, result)
            status = "blank" if row is _BLANK else "rejected" if reason else "ok"
            out["status"].append(status)
            out["reason"].append(reason)
            out["where"].append(where)
            out["raw"].append((text if text is not None else json.dumps(row, ensure_ascii=False, default=str))
                              if status == "rejected" else None)
            out["source"].append(spec.name)
            out["id"].append(None if record is None else record.id or f"{spec.name}-{number}")
            out["messages"].append(None if record is None else record.messages_json)
            out["tools"].append(None if record is None else record.tools_json)
            out["message_keys"].append([] if record is None else record.message_keys)
            out["tags"].append([] if record is None else record.tags)
            out["hash"].append(None if record is None else record.hash)
            if len(out["status"]) == BATCH:
                writer.write_batch(pa.record_batch([out[name] for name in NORMALIZED], schema=schema))
                out = {name: [] for name in NORMALIZED}
        if out["status"]:
            writer.write_batch(pa.record_batch([out[name] for name in NORMALIZED], schema=schema))
    return Dataset.from_file(str(path), info=DatasetInfo(features=NORMALIZED))


def _rows(spec: SourceSpec, display: str, work: Path) -> Iterator[tuple[str, int, str | None, object]]:
    """(where, number for a default id, the text as read or None, the row / _BLANK / _Unreadable)."""
    if spec.hub:
        yield from _hub_rows(spec)
        return
    path = spec.path
    try:
        if path.suffix.lower() == ".csv":
            yield from _csv_rows(spec, display, work)
        elif path.suffix.lower() == ".json" and _starts_with_array(path):
            for i, item in enumerate(json.loads(path.read_text(encoding="utf-8"))):
                yield f"{display}[{i}]", i + 1, None, item
        else:
            with path.open("rb") as f:  # binary: lines end at b"\n" only, as JSON Lines says
                for lineno, raw in enumerate(f, 1):
                    text, row = _parse_line(raw)
                    yield f"{display}:{lineno}", lineno, text, row
    except HarnessError:
        raise
    except Exception as e:  # the CSV reader wraps its errors (e.g. a ragged row) in its own types
        cause = e.__cause__ or e
        if isinstance(cause, UnicodeDecodeError):
            raise HarnessError(f"source {spec.name}: {display} is not UTF-8 text ({cause.reason}); "
                               "save it as UTF-8") from None
        if isinstance(cause, json.JSONDecodeError):
            raise HarnessError(f"source {spec.name}: {display} line {cause.lineno}: not valid JSON ({cause.msg}); "
                               "a .json source is one JSON array or JSON Lines") from None
        raise HarnessError(f"source {spec.name}: cannot read {display}: {str(cause).splitlines()[0]}") from None


def _parse_line(raw: bytes) -> tuple[str, object]:
    """(the line as text, its JSON value / _BLANK / _Unreadable with the reason)."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as e:
        return (raw.decode("utf-8", errors="replace").rstrip("\r\n"),
                _Unreadable(f"not UTF-8 text ({e.reason} at byte {e.start} of the line)"))
    if not text.strip():
        return text, _BLANK
    try:
        return text, json.loads(text)
    except json.JSONDecodeError as e:
        return text, _Unreadable(f"not valid JSON ({e.msg} at column {e.colno})")


def _csv_rows(spec: SourceSpec, display: str, work: Path):
    with spec.path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise HarnessError(f"source {spec.name}: {display} is empty (a CSV file needs a header row)")
    features = Features({name: Value("string") for name in header})  # every column as text
    ds = load_dataset("csv", data_files=str(spec.path), split="train", features=features, keep_default_na=False,
                      cache_dir=str(work / "hf"))
    yield from _dataset_rows(ds, lambda i: (f"{display} row {i + 1}", i + 1))


def _dataset_rows(ds: Dataset, locate):
    i = 0
    for batch in ds.iter(batch_size=BATCH):
        columns = list(batch)
        for pos in range(len(batch[columns[0]])):
            where, number = locate(i)
            yield where, number, None, {c: batch[c][pos] for c in columns}
            i += 1


def _starts_with_array(path: Path) -> bool:
    with path.open(encoding="utf-8") as f:
        while True:
            ch = f.read(1)
            if not ch or not ch.isspace():
                return ch == "["


def hub_dataset_problem(dataset_id: str) -> str | None:
    """Why a hub dataset cannot be loaded now, or None. Datasets live in the same hub as models."""
    from harness.models.checkpoint import hub_problem

    return hub_problem(dataset_id) if "/" in dataset_id else "not a hub id (expected owner/name) and not a file"


def _hub_rows(spec: SourceSpec):
    problem = hub_dataset_problem(spec.hub)
    if problem:
        raise HarnessError(f"source {spec.name}: hub dataset {spec.hub}: {problem}")
    try:
        ds = load_dataset(spec.hub, split=spec.split)
    except Exception as e:
        raise HarnessError(f"source {spec.name}: cannot load hub dataset {spec.hub} split {spec.split}: "
                           f"{str(e).splitlines()[0]}") from None
    yield from _dataset_rows(ds, lambda i: (f"{spec.hub}[{spec.split}][{i}]", i + 1))
