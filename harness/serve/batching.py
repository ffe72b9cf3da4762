"""The generation worker of `harness serve`: requests that arrive together become one batch.

One worker takes whatever is queued (up to `max_batch_size` jobs with the same generation
settings) and generates it as one batch in a thread, so concurrent clients are served faster
than one at a time and the event loop stays responsive. Stop strings, streaming and
cancellation are per row (each row has its own DecodeStream), so they do not split a batch.
Greedy answers do not depend on the batch; sampled ones (temperature > 0, seeded) do.

Log-probabilities (completions `logprobs`/`echo`, chat `logprobs`) are computed in the same
worker thread after the batch, with one forward pass per sequence.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Callable

from harness.models.decode_stream import DecodeStream
from harness.models.generation_settings import GenerationSettings


@dataclass
class TokenLogprob:
    token_id: int
    logprob: float | None  # None for the first prompt token (nothing before it)
    top: list[tuple[int, float]]  # the likeliest tokens at this position


@dataclass
class Job:
    prompt_ids: list[int]
    settings: GenerationSettings | None  # None: nothing to generate (score the prompt only)
    stop: tuple[str, ...] = ()
    logprobs: int | None = None  # alternatives per token; None: no log-probabilities
    echo: bool = False  # log-probabilities of the prompt tokens too
    on_text: Callable[[str], None] | None = None  # streaming: each new piece (called in the worker thread)
    cancelled: threading.Event = field(default_factory=threading.Event)
    # results
    stream: DecodeStream | None = None
    token_logprobs: list[TokenLogprob] | None = None

    @property
    def generated_ids(self) -> list[int]:
        return self.stream.kept_tokens() if self.stream else []


@dataclass
class _Pending:
    job: Job
    future: asyncio.Future


class BatchingGenerator:
    """Queues jobs and runs them in batches on one worker (the backend is not thread-safe)."""

    def __init__(self, backend, max_batch_size: int = 8, window_s: float = 0.005):
        self.backend = backend
        self.max_batch_size = max_batch_size
        self.window_s = window_s  # how long the worker waits for more requests to join a batch
        self.batches: list[int] = []  # sizes of the batches generated (for tests and the bench)
        self.finish_reasons: list[str] = []  # how each generated row ended, in order (for tests)
        self._queue: asyncio.Queue | None = None

    async def run(self) -> None:
        self._queue = asyncio.Queue()
        while True:
            first = await self._queue.get()
            await asyncio.sleep(self.window_s)
            waiting = [first]
            while not self._queue.empty() and len(waiting) < 4 * self.max_batch_size:
                waiting.append(self._queue.get_nowait())
            for group in _groups(waiting, self.max_batch_size):
                await self._run_group(group)

    async def _run_group(self, group: list[_Pending]) -> None:
        live = [p for p in group if not p.job.cancelled.is_set()]
        if not live:
            return
        self.batches.append(len(live))
        try:
            await asyncio.to_thread(self._work, [p.job for p in live])
        except Exception as e:  # noqa: BLE001 (reported to every waiting request as a 500)
            for p in live:
                if not p.future.done():
                    p.future.set_exception(e)
            return
        for p in live:
            if not p.future.done():
                p.future.set_result(p.job)

    def _work(self, jobs: list[Job]) -> None:
        """In the worker thread: generate the batch, then the log-probabilities asked for."""
        settings = jobs[0].settings
        if settings is not None:
            streams = [self.backend.new_stream(settings, stop=j.stop, on_text=j.on_text, cancelled=j.cancelled) for j in jobs]
            self.backend.generate_streams([j.prompt_ids for j in jobs], settings, streams)
            for j, s in zip(jobs, streams):
                j.stream = s
                self.finish_reasons.append(s.finish_reason)
        for j in jobs:
            if j.logprobs is not None:
                j.token_logprobs = _logprobs(self.backend, j)

    async def submit(self, job: Job) -> Job:
        if self._queue is None:
            raise RuntimeError("the generation worker is not running")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(job, future))
        return await future


def _logprobs(backend, job: Job) -> list[TokenLogprob]:
    """Per token of the answer (and of the prompt, with echo): its log-probability and the alternatives."""
    ids = job.prompt_ids + job.generated_ids
    per_token = backend.token_logprobs(ids, job.logprobs)  # positions 1..len(ids)-1
    rows = [TokenLogprob(ids[0], None, [])] + [TokenLogprob(t, lp, top) for t, (lp, top) in zip(ids[1:], per_token)]
    return rows if job.echo else rows[len(job.prompt_ids):]


def _groups(items: list[_Pending], size: int) -> list[list[_Pending]]:
    """Same settings together (one generate call needs one set of settings), in arrival order."""
    by_settings: dict[GenerationSettings | None, list[_Pending]] = {}
    for p in items:
        by_settings.setdefault(p.job.settings, []).append(p)
    return [g[i : i + size] for g in by_settings.values() for i in range(0, len(g), size)]
