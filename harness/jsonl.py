"""JSON Lines: strict reading (errors name file and line) and flushed appending."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from harness.errors import HarnessError


def read_jsonl(path: str | Path, *, what: str = "JSONL file") -> list[dict[str, Any]]:
    """Read every row of a JSONL file; blank lines are skipped, each row must be an object."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{what} not found: {path} (check the path)")
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise HarnessError(
                    f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno}); "
                    "each line must be one JSON object"
                ) from None
            if not isinstance(row, dict):
                raise HarnessError(
                    f"{path}:{lineno}: expected a JSON object per line, got {type(row).__name__}"
                )
            row["__line__"] = lineno
            rows.append(row)
    return rows


def iter_complete_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a file we append to ourselves; a torn last line (a killed writer) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                return  # torn write: the sample will be redone
            if line.strip():
                yield json.loads(line)


def truncate_torn_tail(path: Path) -> None:
    """Cut a partial last line left by a killed writer, so appending starts on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


class JsonlAppender:
    """Appends one JSON object per line and makes it durable before returning."""

    def __init__(self, path: Path):
        truncate_torn_tail(path)
        self._f = path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
