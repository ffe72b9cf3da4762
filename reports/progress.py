"""Progress of long work: a Rich bar on a terminal, plain lines elsewhere (CI logs, files).

A bar that redraws itself only shows up in a log once it ends, so when the console is not a
terminal the same progress is printed as lines, at most every 10% or every 30 seconds:

    generating  ckpt format  24/96 (25%)  elapsed 0:41  eta 2:03
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from harness.scoring import Progress

PLAIN_EVERY_S = 30.0
PLAIN_EVERY_SHARE = 0.10


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ConsoleProgress(Progress):
    def __init__(self, console: Console):
        self.console = console
        self.live = console.is_terminal
        self._rich: RichProgress | None = None
        self._task = None
        self.title, self.description, self.total, self.done = "", "", 0, 0

    def start(self, description: str, total: int) -> None:
        self.close()
        self.title, self.description, self.total, self.done = description, "", total, 0
        self._t0 = self._last_time = time.monotonic()
        self._last_done = 0
        if self.live:
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TimeRemainingColumn()]
            self._rich = RichProgress(*columns, console=self.console, transient=False)
            self._rich.start()
            self._task = self._rich.add_task(description, total=total)

    def describe(self, description: str) -> None:
        self.description = description
        if self._rich is not None:
            self._rich.update(self._task, description=f"{self.title} {description}")

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._rich is not None:
            self._rich.advance(self._task, n)
            return
        now = time.monotonic()
        step = max(1, int(self.total * PLAIN_EVERY_SHARE))
        if self.done >= self.total or self.done - self._last_done >= step or now - self._last_time >= PLAIN_EVERY_S:
            self._last_done, self._last_time = self.done, now
            self.console.print(self.line(now), highlight=False, soft_wrap=True)

    def line(self, now: float) -> str:
        elapsed = now - self._t0
        share = self.done / self.total if self.total else 1.0
        eta = _clock(elapsed / share - elapsed) if 0 < share < 1 else "-"
        where = f"  {self.description}" if self.description else ""
        return (f"{self.title}{where}  {self.done}/{self.total} ({share:.0%})  elapsed {_clock(elapsed)}  eta {eta}")

    def note(self, text: str) -> None:
        self.console.print(text)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None


def progress_for(console: Console) -> ConsoleProgress:
    return ConsoleProgress(console)
