"""Reading one source into Arrow and normalising it.

Every source becomes a `datasets.Dataset` backed by Arrow files in the build's work folder, so
memory stays flat in the number of rows. JSONL is read line by line into a text column, which
keeps exact line numbers and lets one malformed line (not JSON, not UTF-8) be rejected with its
reason instead of failing the whole file; a `.json` file holds either JSON Lines or one array of objects (read
whole: use JSONL for large files); CSV columns are read as text; hub datasets need a reachable
hub. One batched `map` then normalises every row into the schema's columns, with a status:
`ok`, `rejected` (with the reason) or `blank` (an empty line, not a row).
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset, Features, List, Value, load_dataset

from harness.errors import HarnessError
from datapipe.normalize import Normalized, normalize_row
from datapipe.recipe import SourceSpec

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


@dataclass
class RawSource:
    dataset: Dataset
    is_text: bool  # one JSON document per row in column `text` (TEXT_ROWS; else one column per field)
    locate: Callable[[int], tuple[str, int]]  # row index -> ("file:line", number used in default ids)


def read_normalized(spec: SourceSpec, work: Path, display: str, fingerprint: str) -> Dataset:
    """The source's rows in the schema's columns (NORMALIZED), each with its status."""
    raw = _read(spec, work, display)

    def normalize_batch(batch: dict, indices: list[int]) -> dict:
        out = {name: [] for name in NORMALIZED}
        columns = list(batch)
        for pos, index in enumerate(indices):
            where, number = raw.locate(index)
            text = batch["text"][pos] if raw.is_text else None
            if raw.is_text:
                row, reason = (None, batch["undecodable"][pos]) if batch["undecodable"][pos] else _parse_line(text)
            else:
                row, reason = {c: batch[c][pos] for c in columns}, None
            record = None
            if row is not _BLANK and reason is None:
                result = normalize_row(row, spec.format, spec.fields, spec.tags, spec.max_chars)
                record, reason = (result, None) if isinstance(result, Normalized) else (None, result)
            status = "blank" if row is _BLANK else "rejected" if reason else "ok"
            out["status"].append(status)
            out["reason"].append(reason)
            out["where"].append(where)
            out["raw"].append((text if raw.is_text else json.dumps(row, ensure_ascii=False, default=str))
                              if status == "rejected" else None)
            out["source"].append(spec.name)
            out["id"].append(None if record is None else record.id or f"{spec.name}-{number}")
            out["messages"].append(None if record is None else record.messages_json)
            out["tools"].append(None if record is None else record.tools_json)
            out["message_keys"].append([] if record is None else record.message_keys)
            out["tags"].append([] if record is None else record.tags)
            out["hash"].append(None if record is None else record.hash)
        return out

    return raw.dataset.map(
        normalize_batch, batched=True, batch_size=BATCH, with_indices=True,
        remove_columns=raw.dataset.column_names, features=NORMALIZED, new_fingerprint=fingerprint,
    )


_BLANK = object()  # an empty line: not a row


def _parse_line(text: str) -> tuple[object, str | None]:
    """(the JSON value, None), (None, why it is not JSON), or (_BLANK, None)."""
    if not text.strip():
        return _BLANK, None
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg} at column {e.colno})"


def _read(spec: SourceSpec, work: Path, display: str) -> RawSource:
    cache = str(work / "hf")
    if spec.hub:
        return _read_hub(spec, cache)
    path = spec.path
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as f:
                header = next(csv.reader(f), None)
            if not header:
                raise HarnessError(f"source {spec.name}: {display} is empty (a CSV file needs a header row)")
            features = Features({name: Value("string") for name in header})
            ds = load_dataset("csv", data_files=str(path), split="train", cache_dir=cache, features=features,
                              keep_default_na=False)
            return RawSource(ds, False, lambda i: (f"{display} row {i + 1}", i + 1))
        array = suffix == ".json" and _starts_with_array(path)
        ds = _text_rows(_json_array_items(path) if array else _jsonl_lines(path), work / f"{spec.name}.text.arrow")
        if array:
            return RawSource(ds, True, lambda i: (f"{display}[{i}]", i + 1))
        return RawSource(ds, True, lambda i: (f"{display}:{i + 1}", i + 1))
    except HarnessError:
        raise
    except Exception as e:  # the builders wrap parse errors (e.g. a ragged CSV row) in their own types
        cause = e.__cause__ or e
        if isinstance(cause, UnicodeDecodeError):
            raise HarnessError(f"source {spec.name}: {display} is not UTF-8 text ({cause.reason}); "
                               "save it as UTF-8") from None
        if isinstance(cause, json.JSONDecodeError):
            raise HarnessError(f"source {spec.name}: {display} line {cause.lineno}: not valid JSON ({cause.msg}); "
                               "a .json source is one JSON array or JSON Lines") from None
        raise HarnessError(f"source {spec.name}: cannot read {display}: {str(cause).splitlines()[0]}") from None


# One row per line (or array item) as text, written to an Arrow file 10,000 rows at a time: a
# line that is not UTF-8 becomes a rejected row, not a failed source.
TEXT_ROWS = Features({"text": Value("string"), "undecodable": Value("string")})
_TEXT_BATCH = 10_000


def _text_rows(rows, arrow_file: Path) -> Dataset:
    """(text, undecodable) pairs into a memory-mapped Dataset, without holding more than a batch."""
    import pyarrow as pa

    schema = TEXT_ROWS.arrow_schema
    with pa.ipc.new_stream(str(arrow_file), schema) as writer:
        batch: list[tuple[str, str | None]] = []
        for row in itertools.chain(rows, [None]):
            if row is not None:
                batch.append(row)
            if batch and (row is None or len(batch) == _TEXT_BATCH):
                writer.write_batch(pa.record_batch([pa.array(c, pa.string()) for c in zip(*batch)], schema=schema))
                batch = []
    from datasets import DatasetInfo

    return Dataset.from_file(str(arrow_file), info=DatasetInfo(features=TEXT_ROWS))


def _jsonl_lines(path: Path):
    with path.open("rb") as f:  # binary: lines end at b"\n" only, as JSON Lines says
        for raw in f:
            try:
                yield raw.decode("utf-8").rstrip("\r\n"), None
            except UnicodeDecodeError as e:
                yield (raw.decode("utf-8", errors="replace").rstrip("\r\n"),
                       f"not UTF-8 text ({e.reason} at byte {e.start} of the line)")


def _json_array_items(path: Path):
    for item in json.loads(path.read_text(encoding="utf-8")):
        yield json.dumps(item, ensure_ascii=False), None


def _starts_with_array(path: Path) -> bool:
    with path.open(encoding="utf-8") as f:
        while True:
            ch = f.read(1)
            if not ch or not ch.isspace():
                return ch == "["


def hub_dataset_problem(dataset_id: str) -> str | None:
    """Why a hub dataset cannot be loaded now, or None. Datasets live in the same hub as models."""
    from harness.checkpoint import hub_problem

    return hub_problem(dataset_id) if "/" in dataset_id else "not a hub id (expected owner/name) and not a file"


def _read_hub(spec: SourceSpec, cache: str) -> RawSource:
    problem = hub_dataset_problem(spec.hub)
    if problem:
        raise HarnessError(f"source {spec.name}: hub dataset {spec.hub}: {problem}")
    try:
        ds = load_dataset(spec.hub, split=spec.split)
    except Exception as e:
        raise HarnessError(f"source {spec.name}: cannot load hub dataset {spec.hub} split {spec.split}: "
                           f"{str(e).splitlines()[0]}") from None
    return RawSource(ds, False, lambda i: (f"{spec.hub}[{spec.split}][{i}]", i + 1))
