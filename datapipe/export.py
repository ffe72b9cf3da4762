"""Writing a build's output directory.

    train.jsonl, validation.jsonl      one row a line: id, messages, source, tags (and tools)
    train/, validation/, dataset_dict.json
                                       the same rows as Arrow (`DatasetDict.save_to_disk`; read
                                       with `datasets.load_from_disk`)
    sources/<name>/                    each source normalised and deduplicated, as Arrow
    build_report.json                  counts per source and stage, weights, warnings, seed
    rejects.jsonl                      every rejected row: source, where, reason, the row as read
    near_duplicates.jsonl              near-duplicate clusters (with dedup.near)

The directory is written beside the target and swapped in at the end, so a failed build leaves
the previous output as it was. A directory that is not a build output is never overwritten.
"""

from __future__ import annotations

import json
import shutil
from json.encoder import encode_basestring as _string  # a str as JSON, like dumps(str) but faster
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasets import Dataset, DatasetDict, Features, List, Value

from datapipe.schema import dumps
from harness.errors import HarnessError

BATCH = 5000
REPORT = "build_report.json"
EXPORTED = ["id", "messages", "source", "tags", "tools"]  # the columns of an output row

_OPTIONAL_KEYS = ("reasoning_content", "tool_calls", "tool_call_id", "name")


def check_target(out: Path) -> None:
    """Refuse to replace a directory that a build did not write."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / REPORT).is_file())):
        raise HarnessError(f"{out} exists and is not a `harness data build` output (no {REPORT}); "
                           "choose another output directory (--out) or remove it")


def optional_message_keys(datasets: list[Dataset]) -> tuple[list[str], bool]:
    """Which optional message keys any row uses, and whether any row has tools."""
    import pyarrow.compute as pc

    found, tools = set(), False
    for ds in datasets:
        for batch in ds.select_columns(["message_keys", "tools"]).with_format("arrow").iter(batch_size=BATCH):
            found.update(pc.unique(pc.list_flatten(batch["message_keys"])).to_pylist())
            tools = tools or pc.any(pc.is_valid(batch["tools"])).as_py()
    return [k for k in _OPTIONAL_KEYS if k in found], tools


def arrow_features(keys: list[str], tools: bool) -> Features:
    """One Arrow type for every row: only the optional message keys the data uses; tool schemas
    as JSON text (their shapes differ from row to row)."""
    message = {"role": Value("string"), "content": Value("string")}
    if "reasoning_content" in keys:
        message["reasoning_content"] = Value("string")
    if "tool_calls" in keys:
        message["tool_calls"] = List({"type": Value("string"), "id": Value("string"),
                                      "function": {"name": Value("string"), "arguments": Value("string")}})
    for key in ("tool_call_id", "name"):
        if key in keys:
            message[key] = Value("string")
    columns = {"id": Value("string"), "messages": List(message), "source": Value("string"), "tags": List(Value("string"))}
    if tools:
        columns["tools"] = Value("string")
    return Features(columns)


class RowTaker:
    """Rows of a memory-mapped table by position, a batch at a time. pyarrow's `Table.take`
    would first join each column's chunks into one array (memory growing with the table); this
    takes from each record batch separately and puts the rows back in the asked order."""

    def __init__(self, table: pa.Table):
        self.batches = table.to_batches()  # zero-copy views of the mapped file
        self.starts = np.cumsum([0] + [b.num_rows for b in self.batches])

    def take(self, positions: np.ndarray) -> pa.Table:
        chunk = np.searchsorted(self.starts, positions, side="right") - 1
        order = np.argsort(chunk, kind="stable")
        cuts = np.flatnonzero(np.diff(chunk[order])) + 1
        pieces = [self.batches[c[0]].take(pa.array(p - self.starts[c[0]]))
                  for p, c in zip(np.split(positions[order], cuts), np.split(chunk[order], cuts))]
        return pa.Table.from_batches(pieces).combine_chunks().take(pa.array(np.argsort(order)))


def export_split(rows: RowTaker, positions: np.ndarray, jsonl: Path | None,
                 arrow: tuple[Path, Features, str] | None) -> Dataset | None:
    """One pass over a split, taking its rows batch by batch (only a batch is ever in memory),
    writing its JSONL file and/or its Arrow rows; returns the Arrow dataset (to `save_to_disk`)
    when asked for one.

    `arrow` is (work file, features, fingerprint). `messages` becomes Arrow structs through
    pyarrow's JSON reader at the final types (absent keys are null), so nothing is cast later.
    """
    import io

    import pyarrow.json as pa_json

    spelled: dict = {}  # sources and tag lists repeat: spell each once
    text = jsonl.open("w", encoding="utf-8", newline="\n") if jsonl else None
    writer = None
    if arrow:
        path, features, fingerprint = arrow
        schema = features.arrow_schema
        messages_schema = pa.schema([schema.field("messages")])
        writer = pa.ipc.new_stream(str(path), schema)
    try:
        for start in range(0, len(positions), BATCH):
            batch = rows.take(positions[start:start + BATCH])
            messages = batch.column("messages").to_pylist()
            if text:
                lines = []
                for row_id, m, source, tags, tools in zip(batch.column("id").to_pylist(), messages,
                                                          batch.column("source").to_pylist(),
                                                          batch.column("tags").to_pylist(),
                                                          batch.column("tools").to_pylist()):
                    meta = spelled.get((source, *tags))
                    if meta is None:
                        meta = spelled[(source, *tags)] = f'"source": {dumps(source)}, "tags": {dumps(tags)}'
                    lines.append(f'{{"id": {_string(row_id)}, "messages": {m}, {meta}'
                                 + (f', "tools": {tools}}}\n' if tools else "}\n"))
                text.write("".join(lines))
            if writer:
                lines = b"".join(b'{"messages": ' + m.encode("utf-8") + b"}\n" for m in messages)
                parsed = pa_json.read_json(
                    io.BytesIO(lines), read_options=pa_json.ReadOptions(block_size=len(lines) + 1),
                    parse_options=pa_json.ParseOptions(explicit_schema=messages_schema,
                                                       unexpected_field_behavior="ignore"))
                table = {name: batch.column(name) for name in schema.names if name != "messages"}
                table["messages"] = parsed.column("messages")
                writer.write_table(pa.table(table).select(schema.names).cast(schema))
    finally:
        if text:
            text.close()
        if writer:
            writer.close()
    if not arrow:
        return None
    from datasets import DatasetInfo

    written = Dataset.from_file(str(path), info=DatasetInfo(features=features))
    return written.select_columns(list(features), new_fingerprint=fingerprint)  # a fingerprint of the inputs


def save_arrow(splits: dict[str, Dataset], out: Path) -> None:
    DatasetDict(splits).save_to_disk(str(out))


def write_rejects(rejects: list[Dataset], path: Path) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for ds in rejects:
            for batch in ds.select_columns(["source", "where", "reason", "raw"]).iter(batch_size=BATCH):
                for source, where, reason, raw in zip(batch["source"], batch["where"], batch["reason"], batch["raw"]):
                    f.write(dumps({"source": source, "where": where, "reason": reason, "raw": raw}) + "\n")
                    n += 1
    return n


def write_json(value, path: Path) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def swap_in(staged: Path, out: Path, trash: Path) -> None:
    """Replace `out` by `staged`; the old output moves to `trash` first (removed by the caller)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.rename(trash)
    staged.rename(out)
    if trash.exists():
        shutil.rmtree(trash)
