"""Writing a build's output directory (seed 003, step 11).

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
from pathlib import Path

from datasets import Dataset, DatasetDict, Features, List, Value

from harness.errors import HarnessError
from datapipe.schema import dumps

BATCH = 5000
REPORT = "build_report.json"

_OPTIONAL_KEYS = ("reasoning_content", "tool_calls", "tool_call_id", "name")


def check_target(out: Path) -> None:
    """Refuse to replace a directory that a build did not write."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / REPORT).is_file())):
        raise HarnessError(f"{out} exists and is not a `harness data build` output (no {REPORT}); "
                           "choose another output directory (--out) or remove it")


def write_jsonl(ds: Dataset, path: Path) -> None:
    columns = ["id", "messages", "source", "tags", "tools"]
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for batch in ds.select_columns(columns).iter(batch_size=BATCH):
            for row_id, messages, source, tags, tools in zip(*(batch[c] for c in columns)):
                line = f'{{"id": {dumps(row_id)}, "messages": {messages}, "source": {dumps(source)}, "tags": {dumps(tags)}'
                f.write(line + (f', "tools": {tools}}}\n' if tools else "}\n"))


def optional_message_keys(datasets: list[Dataset]) -> tuple[list[str], bool]:
    """Which optional message keys any row uses, and whether any row has tools."""
    found, tools = set(), False
    for ds in datasets:
        for batch in ds.select_columns(["message_keys", "tools"]).iter(batch_size=BATCH):
            for keys in batch["message_keys"]:
                found.update(keys)
            tools = tools or any(batch["tools"])
    return [k for k in _OPTIONAL_KEYS if k in found], tools


def arrow_features(keys: list[str], tools: bool) -> Features:
    """One Arrow type for every row: only the optional message keys the data uses; tool-call
    arguments and tool schemas as JSON text (their shapes differ from row to row)."""
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


def to_arrow(ds: Dataset, features: Features, fingerprint: str) -> Dataset:
    keys = list(features["messages"].feature)

    def decode(batch: dict) -> dict:
        out = []
        for text in batch["messages"]:
            messages = []
            for m in json.loads(text):
                row = {k: m.get(k) for k in keys}
                for call in row.get("tool_calls") or []:
                    call.setdefault("id", None)
                    if not isinstance(call["function"]["arguments"], str):
                        call["function"]["arguments"] = dumps(call["function"]["arguments"])
                messages.append(row)
            out.append(messages)
        return {"messages": out}

    drop = [c for c in ds.column_names if c not in features]
    return ds.map(decode, batched=True, batch_size=BATCH, remove_columns=drop, features=features,
                  new_fingerprint=fingerprint, desc="arrow")


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
