"""A client for OpenAI-compatible chat endpoints: bounded concurrency, counted retries, give-up.

Used by the LLM judge (judges/) and by the `openai` model backend. The openai package sends each
HTTP attempt, configured only through its public options (`max_retries=0`, `timeout`); the retry
loop is ours, so it is counted, capped and stopped by give-up without touching openai's internals:

- retried: HTTP 408, 409, 429 and 5xx, timeouts and connection errors (a server's
  `x-should-retry: true/false` header overrides that); not retried: other HTTP errors (400 bad
  request, 401 bad key, 404 unknown model, ...);
- the wait before a retry is the server's `retry-after-ms` / `Retry-After` when it sends one
  (seconds or an HTTP date; a wait over MAX_RETRY_AFTER_S is not waited for: the request fails),
  else `backoff_s` x 2^k, at most MAX_BACKOFF_S;
- give-up: after `give_up_after` consecutive requests failed (each after its retries), the
  remaining requests, and the retries of those in flight, fail at once instead of each waiting
  through its own retries, so a judge that is down costs seconds, not the length of the run.

Every HTTP attempt is counted (`http_attempts`, and per reply `attempts`); every wait is recorded
(`waits`) and goes through the `sleep` the client was made with (tests record instead of sleeping).

The API key is read from the environment variable named in the settings when a batch starts,
and lives only in the openai client object.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Awaitable, Callable

NO_KEY = "EMPTY"  # what local servers (vLLM, harness serve) accept when no key is configured
RETRIED_STATUSES = (408, 409, 429)  # and every 5xx
MAX_BACKOFF_S = 30.0  # the longest wait of our own backoff
MAX_RETRY_AFTER_S = 120.0  # a server asking for a longer wait is not retried (the request fails)


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


@lru_cache(maxsize=1)
def _tls_context():
    """One TLS context for every client of this process: building one (loading the CA bundle) costs
    about 70 ms, which a new client per batch paid each time (judging a class is many batches)."""
    import httpx

    return httpx.create_ssl_context()  # as httpx makes it by default (certifi, SSL_CERT_FILE / _DIR)


def api_key_from_env(env_name: str) -> str:
    return os.environ.get(env_name) or NO_KEY


class ChatClient:
    """Sends batches of chat requests to one model at one endpoint."""

    def __init__(self, settings: EndpointSettings, model: str,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        if not settings.base_url:
            raise ValueError("ChatClient needs EndpointSettings.base_url")
        self.settings = settings
        self.model = model
        self.sleep = sleep
        self.http_attempts = 0  # every HTTP request sent, retries included
        self.retries = 0
        self.waits: list[float] = []  # seconds waited before each retry
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
        from openai import AsyncOpenAI, DefaultAsyncHttpxClient

        # One client per event loop: its connection pool belongs to the loop it was made in.
        # max_retries=0: each call is one HTTP attempt; the retries are ours (_send).
        client = AsyncOpenAI(base_url=self.settings.base_url, api_key=api_key_from_env(self.settings.api_key_env),
                             max_retries=0, timeout=self.settings.timeout_s,
                             http_client=DefaultAsyncHttpxClient(verify=_tls_context()))
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
        attempts = 0
        while True:
            if self.gave_up:  # also ends the retries of a request already under way
                return ChatReply(None, error=self._gave_up_text(), attempts=attempts)
            attempts += 1
            self.http_attempts += 1
            try:
                resp = await client.chat.completions.create(model=self.model, messages=request.messages, **request.params)
            except Exception as e:  # noqa: BLE001 (classified below)
                error, retryable = _classify(e, self.settings.timeout_s)
                wait = self._wait_before_retry(e, attempts) if retryable else None
                if wait is None:
                    if retryable:
                        error += f" (after {attempts} attempts)"
                    self._consecutive_failures += 1
                    return ChatReply(None, error=error, attempts=attempts)
                self.retries += 1
                self.waits.append(wait)
                await self.sleep(wait)
                continue
            self._consecutive_failures = 0
            return _reply(resp, attempts)

    def _wait_before_retry(self, e: Exception, attempts: int) -> float | None:
        """Seconds to wait before the next attempt; None: no retry (none left, or the server asks
        for a wait longer than MAX_RETRY_AFTER_S)."""
        if attempts > self.settings.retries:
            return None
        told = _retry_after_s(getattr(getattr(e, "response", None), "headers", None))
        if told is not None:
            return told if told <= MAX_RETRY_AFTER_S else None
        return min(self.settings.backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S)


def _retry_after_s(headers) -> float | None:
    """The server's wait: `retry-after-ms` (milliseconds), else `Retry-After` (seconds or an HTTP
    date); None when it sent neither (or nothing readable)."""
    if not headers:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None and float(ms) >= 0:
            return float(ms) / 1000
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            date = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = date.timestamp() - time.time()
    return max(seconds, 0.0)


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
        should = e.response.headers.get("x-should-retry") if getattr(e, "response", None) is not None else None
        if should in ("true", "false"):  # the server says
            retried = should == "true"
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
