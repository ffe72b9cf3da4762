"""Run the `harness` CLI in this process and SIGKILL it at an exact point (a test helper).

    python tests/crash_points.py FILE N [torn] -- run --suite lab1 ...

FILE is a file the process appends to, by name (samples.jsonl, scores.jsonl: any such file) or by
its full path; N counts the rows this process writes to it. After the Nth row is written (and fsynced) the process kills itself with
SIGKILL: no cleanup, no flush, like a power cut or the OOM killer. With `torn`, only the first half
of the Nth row's bytes reach the file before the kill: a write cut mid-line.

The kill is real; only *when* it happens is chosen, so a test can hit a given stage (mid-task,
between two tasks, mid-scoring) on every run instead of by chance.
"""

from __future__ import annotations

import os
import signal
import sys


def kill_after(file_name: str, n: int, torn: bool) -> None:
    from harness.io import jsonl

    original = jsonl.JsonlAppender.write
    written = {"rows": 0}

    def write(self, row):
        if file_name not in (self.path.name, str(self.path)):
            return original(self, row)
        written["rows"] += 1
        if written["rows"] < n:
            return original(self, row)
        if torn:
            data = jsonl.encode_row(row)
            with open(self.path, "ab") as f:
                f.write(data[: len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
        else:
            original(self, row)
        os.kill(os.getpid(), signal.SIGKILL)

    jsonl.JsonlAppender.write = write


def main(argv: list[str]) -> int:
    split = argv.index("--")
    file_name, n, *rest = argv[:split]
    kill_after(file_name, int(n), torn=rest == ["torn"])
    from harness.cli import main as harness_main

    return harness_main(argv[split + 1 :])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
