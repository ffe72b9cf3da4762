"""The judge client: prompts in, reply texts out, through the disk cache and the retrying
OpenAI-compatible client (harness.models.openai_client: concurrency, backoff, give-up).

Judge requests are greedy (temperature 0) with a `max_tokens` limit; identical prompts within one
batch are sent once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from harness.models.openai_client import ChatClient, ChatRequest
from judges.cache import JudgeCache, cache_key
from judges.local import JudgeTarget
from judges.options import JudgeOptions


@dataclass
class JudgeReply:
    text: str | None  # the judge's reply; None when the request failed
    error: str | None = None  # transport/API error after retries
    cached: bool = False  # answered from the cache (or by an identical prompt in this batch)
    requests: int = 0  # HTTP requests this reply cost (retries included; 0 when cached)
    finish_reason: str | None = None  # "length": the reply was cut at max_tokens
    prompt_tokens: int | None = None  # as the endpoint reported them (None: cached, or not reported)
    completion_tokens: int | None = None


class Judge:
    def __init__(self, options: JudgeOptions, target: JudgeTarget, *, cache: JudgeCache | None = None):
        self.model = target.model
        self.identity = target.identity
        self.settings = {"temperature": 0.0, "max_tokens": options.max_tokens}
        self.cache = cache
        self.client = ChatClient(options.for_target(target.base_url, target.api_key_env), target.model)
        self.cache_hits = 0

    @property
    def http_requests(self) -> int:
        return self.client.http_attempts

    def ask_all(self, prompts: list[list[dict]], on_done: Callable[[int], None] | None = None,
                settings: dict | None = None, usable: Callable[[str], bool] = lambda reply: True) -> list[JudgeReply]:
        """One reply per prompt, in order; on_done(n) is called as n more replies are ready.
        `settings` (a judge config's completion settings) override the defaults. Only `usable`
        replies (those whose verdict parses) are cached and taken from the cache: a reply that
        failed is asked again by a later run, once the judge is fixed."""
        on_done = on_done or (lambda n: None)
        settings = {**self.settings, **(settings or {})}
        replies: list[JudgeReply | None] = [None] * len(prompts)
        todo: dict[str, list[int]] = {}
        for i, messages in enumerate(prompts):
            key = cache_key(self.identity, messages, settings)
            entry = self.cache.get(key) if self.cache else None
            if entry is not None and isinstance(entry.get("reply"), str) and usable(entry["reply"]):
                replies[i] = JudgeReply(entry["reply"], cached=True, finish_reason=entry.get("finish_reason"))
                self.cache_hits += 1
                on_done(1)
            else:
                todo.setdefault(key, []).append(i)
        keys = list(todo)

        def finished(j: int, reply) -> None:
            key, indices = keys[j], todo[keys[j]]
            if reply.ok and self.cache and usable(reply.content):
                self.cache.put(key, {"model": self.identity, "settings": settings,
                                     "messages": prompts[indices[0]], "reply": reply.content,
                                     "finish_reason": reply.finish_reason, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
            for n, i in enumerate(indices):
                first = n == 0
                replies[i] = JudgeReply(reply.content if reply.ok else None, reply.error,
                                        cached=not first, requests=reply.attempts if first else 0,
                                        finish_reason=reply.finish_reason,
                                        prompt_tokens=reply.prompt_tokens if first else None,
                                        completion_tokens=reply.completion_tokens if first else None)
            on_done(len(indices))

        self.client.complete_all([ChatRequest(prompts[todo[k][0]], dict(settings)) for k in keys], finished)
        return replies  # type: ignore[return-value]
