"""A client for OpenAI-compatible chat endpoints: bounded concurrency, counted retries, give-up.

Used by the LLM judge (judges/) and by the `openai` model backend. Retries and timeouts are the
openai package's own machinery (`max_retries`, `timeout`):

- retried: HTTP 408, 409, 429 and 5xx, timeouts and connection errors (a server's
  `x-should-retry` header overrides that); not retried: other HTTP errors (400 bad request,
  401 bad key, 404 unknown model, ...);
- the wait before a retry is the server's `Retry-After` / `retry-after-ms` when it sends one
  (seconds or an HTTP date; a wait over the openai client's cap of 2 minutes is not retried),
  else openai's exponential backoff with jitter, scaled so the first wait is `backoff_s`:
  backoff_s x 2^k x (0.75..1), at most 16 x backoff_s;
- give-up (ours): after `give_up_after` consecutive requests failed (each after its retries),
  the remaining requests, and the retries of those in flight, fail at once instead of each
  waiting through its own retries, so a judge that is down costs seconds, not the length of the run.

Every HTTP attempt is counted (`http_attempts`, and per reply `attempts`) through the openai
client's `_prepare_request` hook, which runs once per attempt, retries included.

The API key is read from the environment variable named in the settings when a batch starts,
and lives only in the openai client object.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from dataclasses import dataclass, field
from typing import Any, Callable

NO_KEY = "EMPTY"  # what local servers (vLLM, harness serve) accept when no key is configured
OPENAI_FIRST_WAIT_S = 0.5  # the openai client's first backoff wait (its INITIAL_RETRY_DELAY)
RETRIED_STATUSES = (408, 409, 429)  # and every 5xx: what the openai client retries


@dataclass(frozen=True)
class EndpointSettings:
    """How to talk to an OpenAI-compatible endpoint; the defaults are the CLI's defaults."""

    base_url: str = ""  # "" until known (a judge's `local:` server gets its port when started)
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0  # per HTTP attempt
    retries: int = 4  # retries after the first attempt
    backoff_s: float = 1.0  # first wait before a retry, doubling (unless the server says how long)
    concurrency: int = 8  # requests in flight at once
    give_up_after: int = 8  # consecutive failed requests after which the rest fail at once


@dataclass
class ChatRequest:
    messages: list[dict]
    params: dict[str, Any] = field(default_factory=dict)  # model excluded; passed to chat.completions.create


@dataclass
class ChatReply:
    content: str | None  # None when the request failed
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning: str | None = None  # `reasoning_content` of servers that split thinking out (vLLM)
    error: str | None = None  # why it failed, after its retries
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def api_key_from_env(env_name: str) -> str:
    return os.environ.get(env_name) or NO_KEY


@dataclass
class _Attempts:
    n: int = 0


# The attempt counter of the request being sent: each request runs in its own asyncio task, so
# the hook (called inside that task) finds the right counter.
_current_attempts: contextvars.ContextVar[_Attempts] = contextvars.ContextVar("harness_openai_attempts")


class GaveUp(Exception):
    """Raised from the per-attempt hook once the client has given up (ends a request's retries)."""


class ChatClient:
    """Sends batches of chat requests to one model at one endpoint."""

    def __init__(self, settings: EndpointSettings, model: str):
        if not settings.base_url:
            raise ValueError("ChatClient needs EndpointSettings.base_url")
        self.settings = settings
        self.model = model
        self.http_attempts = 0  # every HTTP request sent, retries included
        self.retries = 0
        self.waits: list[float] = []  # seconds waited before each retry (the openai client's choice)
        self._consecutive_failures = 0

    @property
    def gave_up(self) -> bool:
        return self._consecutive_failures >= self.settings.give_up_after

    def _gave_up_text(self) -> str:
        return f"gave up: the endpoint failed {self.settings.give_up_after} requests in a row"

    def complete_all(self, requests: list[ChatRequest], on_done: Callable[[int, ChatReply], None] | None = None) -> list[ChatReply]:
        """Send every request (at most `concurrency` at a time); replies in request order."""
        if not requests:
            return []
        return asyncio.run(self._complete_all(requests, on_done))

    async def _complete_all(self, requests, on_done) -> list[ChatReply]:
        # One client per event loop: its connection pool belongs to the loop it was made in.
        client = _counting_client(self)
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(i: int, request: ChatRequest) -> ChatReply:
            async with gate:
                reply = await self._send(client, request)
            if on_done:
                on_done(i, reply)
            return reply

        try:
            return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))
        finally:
            await client.close()

    async def _send(self, client, request: ChatRequest) -> ChatReply:
        if self.gave_up:
            return ChatReply(None, error=self._gave_up_text())
        attempts = _Attempts()
        _current_attempts.set(attempts)
        try:
            resp = await client.chat.completions.create(model=self.model, messages=request.messages, **request.params)
        except Exception as e:  # noqa: BLE001 (classified below)
            self.retries += max(0, attempts.n - 1)
            if isinstance(e, GaveUp):
                return ChatReply(None, error=self._gave_up_text(), attempts=attempts.n)
            error, retryable = _classify(e, self.settings.timeout_s)
            if retryable:
                error += f" (after {attempts.n} attempts)"
            self._consecutive_failures += 1
            return ChatReply(None, error=error, attempts=attempts.n)
        self.retries += attempts.n - 1
        self._consecutive_failures = 0
        return _reply(resp, attempts.n)


def _counting_client(owner: ChatClient):
    """An AsyncOpenAI whose retries are counted, scaled to `backoff_s`, and cut short on give-up."""
    from openai import AsyncOpenAI

    settings = owner.settings

    class CountingClient(AsyncOpenAI):
        async def _prepare_request(self, request) -> None:  # once per HTTP attempt, retries included
            if owner.gave_up:
                raise GaveUp()
            owner.http_attempts += 1
            counter = _current_attempts.get(None)
            if counter is not None:
                counter.n += 1
            await super()._prepare_request(request)

        def _calculate_retry_timeout(self, remaining_retries, options, response_headers=None) -> float:
            wait = super()._calculate_retry_timeout(remaining_retries, options, response_headers)
            told = self._parse_retry_after_header(response_headers)
            if told is None or not told > 0:  # openai's own backoff (the server did not say): scale it
                wait *= settings.backoff_s / OPENAI_FIRST_WAIT_S
            owner.waits.append(wait)
            return wait

    return CountingClient(base_url=settings.base_url, api_key=api_key_from_env(settings.api_key_env),
                          max_retries=settings.retries, timeout=settings.timeout_s)


def _reply(resp, attempts: int) -> ChatReply:
    if not getattr(resp, "choices", None):
        return ChatReply(None, error="the response has no choices", attempts=attempts)
    choice = resp.choices[0]
    usage = getattr(resp, "usage", None)
    return ChatReply(
        content=choice.message.content or "",
        finish_reason=choice.finish_reason,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        reasoning=getattr(choice.message, "reasoning_content", None),
        attempts=attempts,
    )


def _classify(e: Exception, timeout_s: float) -> tuple[str, bool]:
    """(error text, whether the openai client retried this kind of error)."""
    import openai

    if isinstance(e, openai.APITimeoutError):
        return f"timeout after {timeout_s:g} s", True
    if isinstance(e, openai.APIConnectionError):
        cause = e.__cause__ or e
        return f"connection error: {_one_line(cause) or type(cause).__name__}", True
    if isinstance(e, openai.APIStatusError):
        retried = e.status_code in RETRIED_STATUSES or e.status_code >= 500
        return f"HTTP {e.status_code}: {_one_line(_error_message(e))}", retried
    return f"{type(e).__name__}: {_one_line(e)}", False


def _error_message(e) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(e, "message", "") or e)


def _one_line(x) -> str:
    lines = str(x).strip().splitlines()
    return lines[0][:300] if lines else ""


def looks_like_url(spec: str) -> bool:
    """True for anything the user meant as a URL (then checked strictly by `check_endpoint_url`)."""
    s = spec.strip().lower()
    return "://" in s or s.startswith(("http:", "https:"))


def check_endpoint_url(url: str, flag: str) -> str:
    """An http(s) URL with a host (and a valid port, if any); else one clear HarnessError."""
    from urllib.parse import urlparse

    from harness.errors import HarnessError

    example = "e.g. http://127.0.0.1:8000/v1"
    parsed = urlparse(url.strip())
    if parsed.scheme not in {"http", "https"}:
        raise HarnessError(f"{flag} {url!r}: not an http(s) URL of an OpenAI-compatible API ({example})")
    try:
        port_ok = parsed.hostname is not None and (parsed.port is None or 0 < parsed.port < 65536)
    except ValueError:
        port_ok = False
    if not parsed.hostname or not port_ok:
        raise HarnessError(f"{flag} {url!r}: malformed URL (needs a host and a numeric port, {example})")
    return url.strip().rstrip("/")
