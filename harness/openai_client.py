"""A client for OpenAI-compatible chat endpoints: bounded concurrency, visible retries, give-up.

Used by the LLM judge (judges/) and by the `openai` model backend. The openai package's own
retries are switched off (max_retries=0) and done here instead, so that every attempt is counted
(`http_attempts`) and the policy is testable:

- retried, with exponential backoff (backoff_s, 2*backoff_s, 4*... capped at 30 s; a 429's
  Retry-After is honoured up to the cap): HTTP 429, HTTP 5xx, timeouts, connection errors;
- not retried: other HTTP errors (400 bad request, 401 bad key, 404 unknown model, ...);
- give-up: after `give_up_after` consecutive requests failed (each after its retries), the
  remaining requests fail at once instead of each waiting through its own retries, so a judge
  that is down costs seconds, not the length of the run.

The API key is read from the environment variable named in the settings when a batch starts,
and lives only in the openai client object.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any, Callable

MAX_BACKOFF_S = 30.0
NO_KEY = "EMPTY"  # what local servers (vLLM, harness serve) accept when no key is configured


@dataclass(frozen=True)
class EndpointSettings:
    base_url: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 1.0
    concurrency: int = 8
    give_up_after: int = 8


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


class ChatClient:
    """Sends batches of chat requests to one model at one endpoint."""

    def __init__(self, settings: EndpointSettings, model: str, *, sleep: Callable[[float], Any] = asyncio.sleep):
        self.settings = settings
        self.model = model
        self.http_attempts = 0  # every HTTP request sent, retries included
        self.retries = 0
        self._consecutive_failures = 0
        self._sleep = sleep

    @property
    def gave_up(self) -> bool:
        return self._consecutive_failures >= self.settings.give_up_after

    def complete_all(self, requests: list[ChatRequest], on_done: Callable[[int, ChatReply], None] | None = None) -> list[ChatReply]:
        """Send every request (at most `concurrency` at a time); replies in request order."""
        if not requests:
            return []
        return asyncio.run(self._complete_all(requests, on_done))

    async def _complete_all(self, requests, on_done) -> list[ChatReply]:
        from openai import AsyncOpenAI

        # One AsyncOpenAI per event loop: its connection pool belongs to the loop it was made in.
        client = AsyncOpenAI(
            base_url=self.settings.base_url, api_key=api_key_from_env(self.settings.api_key_env),
            max_retries=0, timeout=self.settings.timeout_s,
        )
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(i: int, request: ChatRequest) -> ChatReply:
            async with gate:
                reply = await self._with_retries(client, request)
            if on_done:
                on_done(i, reply)
            return reply

        try:
            return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))
        finally:
            await client.close()

    async def _with_retries(self, client, request: ChatRequest) -> ChatReply:
        attempts = 0
        while True:
            if self.gave_up:
                return ChatReply(None, error=f"gave up: the endpoint failed {self.settings.give_up_after} "
                                 "requests in a row", attempts=attempts)
            attempts += 1
            self.http_attempts += 1
            try:
                resp = await client.chat.completions.create(model=self.model, messages=request.messages, **request.params)
            except Exception as e:  # noqa: BLE001 (classified below; anything else is not retried)
                error, retry_after = _classify(e, self.settings.timeout_s)
                if retry_after is None or attempts > self.settings.retries:
                    if retry_after is not None:
                        error += f" (after {attempts} attempts)"
                    self._consecutive_failures += 1
                    return ChatReply(None, error=error, attempts=attempts)
                self.retries += 1
                delay = min(MAX_BACKOFF_S, max(self.settings.backoff_s * 2 ** (attempts - 1), retry_after))
                await self._sleep(delay)
                continue
            self._consecutive_failures = 0
            return _reply(resp, attempts)


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


def _classify(e: Exception, timeout_s: float) -> tuple[str, float | None]:
    """(error text, seconds to wait at least before a retry) or (error text, None): do not retry."""
    import openai

    if isinstance(e, openai.APITimeoutError):
        return f"timeout after {timeout_s:g} s", 0.0
    if isinstance(e, openai.APIConnectionError):
        cause = e.__cause__ or e
        return f"connection error: {_one_line(cause) or type(cause).__name__}", 0.0
    if isinstance(e, openai.APIStatusError):
        text = f"HTTP {e.status_code}: {_one_line(_error_message(e))}"
        if e.status_code == 429 or e.status_code >= 500:
            return text, _retry_after(e)
        return text, None
    return f"{type(e).__name__}: {_one_line(e)}", None


def _error_message(e) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(e, "message", "") or e)


def _retry_after(e) -> float:
    headers = getattr(getattr(e, "response", None), "headers", None) or {}
    try:
        return max(0.0, float(headers.get("retry-after", 0)))
    except (TypeError, ValueError):
        return 0.0


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
