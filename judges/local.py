"""Where the judge lives: a remote OpenAI-compatible endpoint, or `local:MODEL`, for which
`harness serve` is started in this process on a free 127.0.0.1 port while the judge scorers run and
stopped after it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

from judges.options import JudgeOptions


@dataclass(frozen=True)
class JudgeTarget:
    base_url: str
    model: str  # the id requests name
    identity: str  # what the cache keys on: the model id, plus weight hashes for a local judge
    api_key_env: str  # "" for the embedded server, which wants no key (the user's key stays home)


@contextlib.contextmanager
def judge_target(options: JudgeOptions, say=None) -> Iterator[JudgeTarget]:
    spec = options.local_model
    if spec is None:
        yield JudgeTarget(options.url, options.model, options.model, options.endpoint.api_key_env)
        return
    from harness.models.backends import make_backend
    from harness.models.checkpoint import resolve_checkpoint
    from harness.serve.app import build_app, serve_in_background

    ckpt = resolve_checkpoint(spec)
    described = ckpt.describe()
    identity = f"local:{spec}|model={described['model_hash'] or ckpt.model}|adapter={described['adapter_hash']}"
    if say:
        say(f"[dim]Starting the local judge {spec} (harness serve on 127.0.0.1)[/dim]")
    app = build_app(make_backend(ckpt), spec, max_batch_size=options.endpoint.concurrency)
    with serve_in_background(app) as url:
        yield JudgeTarget(url, spec, identity, "")
