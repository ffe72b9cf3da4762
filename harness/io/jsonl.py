"""JSON Lines: strict reading (errors name file and line) and a durable appender.

Files we append to ourselves (samples.jsonl, scores.jsonl) may end in a line cut short by a
killed writer. Such a torn tail is never an error and never takes a good line with it:

- reading (`iter_complete_rows`) skips a torn last line; a last line that is a whole JSON object
  and only lost its newline is a good line and is read;
- before appending, `repair_torn_tail` cuts the torn line (or gives the good one its newline) and
  says so once, as a `TornLineWarning` (the CLI prints it as one `warning:` line).

A bad line anywhere else was not made by a crash: it is an error naming file and line.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

from harness.errors import HarnessError, HarnessWarning
from harness.io.writes import write_refused


class TornLineWarning(HarnessWarning):
    """A file we append to ended in a line cut short by a killed writer; it was repaired."""


def read_jsonl(path: str | Path, *, what: str = "JSONL file") -> list[dict[str, Any]]:
    """Read every row of a JSONL file; blank lines are skipped, each row must be an object."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{what} not found: {path} (check the path)")
    rows = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            row = _parse_line(path, lineno, raw, "each line must be one JSON object")
            if row is not None:
                row["__line__"] = lineno
                rows.append(row)
    return rows


def _parse_line(path: Path, lineno: int, raw: bytes, fix: str) -> dict[str, Any] | None:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HarnessError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line); {fix}, saved as UTF-8") from None
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise HarnessError(f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno}); {fix}") from None
    except RecursionError:
        raise HarnessError(f"{path}:{lineno}: JSON nested too deeply to read; {fix}") from None
    if not isinstance(row, dict):
        raise HarnessError(f"{path}:{lineno}: expected a JSON object per line, got {type(row).__name__}")
    return row


def _whole_object(raw: bytes) -> bool:
    """True when `raw` (a last line without its newline) is one complete JSON object."""
    try:
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False


def iter_complete_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a file we append to ourselves; a torn last line (a killed writer) is skipped."""
    if not path.exists():
        return
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    fix = "the file was changed by hand or by another program: restore it, or delete the line to redo that record"
    for lineno, raw in enumerate(lines, 1):
        row = _parse_line(path, lineno, raw, fix)
        if row is not None:
            yield row
    if tail.strip() and _whole_object(tail):  # only the newline was lost: a good line
        yield json.loads(tail.decode("utf-8"))


def repair_torn_tail(path: Path) -> str | None:
    """Make `path` end on a line boundary before appending; returns (and warns) what was done."""
    if not path.exists():
        return None
    with path.open("rb") as f:
        data = f.read()
    cut = data.rfind(b"\n") + 1
    tail = data[cut:]
    if not tail:
        return None
    lineno = data.count(b"\n") + 1
    try:
        if _whole_object(tail):
            with path.open("ab") as f:
                f.write(b"\n")
            message = f"{path}:{lineno}: the last line had lost its newline (a write cut short); the line is kept"
        else:
            with path.open("r+b") as f:
                f.truncate(cut)
            message = (f"{path}:{lineno}: the last line was cut mid-write ({len(tail)} bytes, the writer was killed); "
                       "removed it, its record is made again")
    except OSError as e:
        raise write_refused(path, e) from None
    warnings.warn(message, TornLineWarning, stacklevel=2)
    return message


def encode_row(row: dict[str, Any]) -> bytes:
    """One JSON line, UTF-8. Text with lone surrogates (from `\\ud800` escapes in someone's JSON)
    cannot be UTF-8; such a row is written with ASCII escapes, which read back to the same text."""
    try:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(row, ensure_ascii=True) + "\n").encode("ascii")


class JsonlAppender:
    """Appends one JSON object per line and makes it durable before returning.

    A write the disk refuses (full, file-size limit, read-only) is undone to the last whole line
    and raised as one HarnessError, so the file stays valid JSONL with every earlier row kept.
    `then` says what the user does after fixing it (e.g. resume the run).
    """

    def __init__(self, path: Path, *, then: str = "run the command again"):
        self.path = Path(path)
        self.then = then
        repair_torn_tail(self.path)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise write_refused(self.path, e, then) from None

    def write(self, row: dict[str, Any]) -> None:
        data = memoryview(encode_row(row))
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(self._fd, data):]
            os.fsync(self._fd)
        except OSError as e:
            try:
                os.ftruncate(self._fd, start)  # no half line: the file ends with whole rows only
            except OSError:
                pass
            raise write_refused(self.path, e, self.then) from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
