"""`harness serve`: an OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`) for a local
model or LoRA adapter, on FastAPI + uvicorn, bound to 127.0.0.1 unless told otherwise.

It is the embedded judge (`--judge local:MODEL` starts one on a free port for the run) and lets
any OpenAI client talk to a checkpoint. Generation is the hf backend's, so a served answer is
the answer `harness run` would record.

Requests that arrive together are batched: one worker takes whatever is queued (up to
`max_batch_size`, same generation settings) and generates it as one batch in a thread, so
concurrent clients are served faster than one at a time and the event loop stays responsive.
Greedy answers do not depend on the batch; sampled ones (temperature > 0, seeded) do.

Request fields: messages, max_tokens / max_completion_tokens, temperature, top_p, seed, and the
vLLM extras top_k, min_p, repetition_penalty, chat_template_kwargs.enable_thinking. Streaming,
n > 1, stop sequences and tools are refused with HTTP 400, never silently ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from harness.errors import HarnessError
from harness.generation_settings import GenerationSettings

LOOPBACK = "127.0.0.1"


def _error(status: int, message: str, kind: str = "invalid_request_error", param: str | None = None):
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "param": param, "code": None}})


class _ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


@dataclass
class _Pending:
    messages: list[dict]
    settings: GenerationSettings
    future: asyncio.Future


class BatchingGenerator:
    """Queues requests and generates them in batches on one worker (the backend is not thread-safe)."""

    def __init__(self, backend, max_batch_size: int = 8, window_s: float = 0.005):
        self.backend = backend
        self.max_batch_size = max_batch_size
        self.window_s = window_s  # how long the worker waits for more requests to join a batch
        self.batches: list[int] = []  # sizes of the batches generated (for tests and the bench)
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
                await self._generate(group)

    async def _generate(self, group: list[_Pending]) -> None:
        self.batches.append(len(group))
        try:
            gens = await asyncio.to_thread(self.backend.generate, [p.messages for p in group], group[0].settings, "ckpt")
        except Exception as e:  # noqa: BLE001 (reported to every waiting request as a 500)
            for p in group:
                if not p.future.done():
                    p.future.set_exception(e)
            return
        for p, g in zip(group, gens):
            if not p.future.done():
                p.future.set_result(g)

    async def submit(self, messages: list[dict], settings: GenerationSettings):
        if self._queue is None:
            raise RuntimeError("the generation worker is not running")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(messages, settings, future))
        return await future


def _groups(items: list[_Pending], size: int) -> list[list[_Pending]]:
    """Same settings together (one generate call needs one set of settings), in arrival order."""
    by_settings: dict[GenerationSettings, list[_Pending]] = {}
    for p in items:
        by_settings.setdefault(p.settings, []).append(p)
    return [g[i : i + size] for g in by_settings.values() for i in range(0, len(g), size)]


def request_settings(body: dict, defaults: GenerationSettings) -> GenerationSettings:
    """The generation settings a chat.completions body asks for (unknown values -> HTTP 400)."""
    for unsupported, why in (("stream", "streaming"), ("tools", "tools"), ("functions", "functions"),
                             ("stop", "stop sequences"), ("logprobs", "logprobs")):
        if body.get(unsupported):
            raise _ApiError(400, f"{why} not supported by harness serve", param=unsupported)
    if body.get("n") not in (None, 1):
        raise _ApiError(400, "only n=1 is supported by harness serve", param="n")
    overrides: dict[str, Any] = {}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        overrides["max_new_tokens"] = max_tokens
    for key in ("temperature", "top_p", "seed", "top_k", "min_p", "repetition_penalty"):
        if body.get(key) is not None:
            overrides[key] = body[key]
    kwargs = body.get("chat_template_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise _ApiError(400, "chat_template_kwargs must be an object", param="chat_template_kwargs")
    if "enable_thinking" in kwargs:
        overrides["enable_thinking"] = kwargs["enable_thinking"]
    try:
        return defaults.updated(overrides, "request")
    except HarnessError as e:
        raise _ApiError(400, str(e)) from None


def request_messages(body: dict) -> list[dict]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _ApiError(400, "messages must be a non-empty list", param="messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in {"system", "user", "assistant"}:
            raise _ApiError(400, f"messages[{i}]: role must be system, user or assistant", param="messages")
        content = m.get("content")
        if isinstance(content, list):  # content parts: only text
            if any(not isinstance(p, dict) or p.get("type") != "text" for p in content):
                raise _ApiError(400, f"messages[{i}]: only text content parts are supported", param="messages")
            content = "".join(p.get("text", "") for p in content)
        if not isinstance(content, str):
            raise _ApiError(400, f"messages[{i}]: content must be a string", param="messages")
        out.append({"role": m["role"], "content": content})
    return out


def build_app(backend, model_id: str, *, defaults: GenerationSettings | None = None,
              api_key: str | None = None, max_batch_size: int = 8):
    """The FastAPI app serving `backend` under the model id `model_id`."""
    defaults = defaults or GenerationSettings()
    generator = BatchingGenerator(backend, max_batch_size)
    created = int(time.time())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        worker = asyncio.create_task(generator.run())
        while generator._queue is None:
            await asyncio.sleep(0)
        yield
        worker.cancel()

    app = FastAPI(title="harness serve", lifespan=lifespan)
    app.state.generator = generator

    @app.exception_handler(_ApiError)
    async def api_error(request, e: _ApiError):
        return _error(e.status, e.message, e.kind, e.param)

    @app.exception_handler(RequestValidationError)
    async def bad_json(request, e):
        return _error(400, f"invalid request body: {e.errors()[0].get('msg', 'malformed')}")

    @app.middleware("http")
    async def check_key(request: Request, call_next):
        if api_key is not None:
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(sent.encode(), api_key.encode()):
                return _error(401, "invalid API key", "authentication_error")
        return await call_next(request)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "sft-harness"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            body = await request.json()
        except ValueError:
            raise _ApiError(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise _ApiError(400, "the request body must be a JSON object")
        if body.get("model") != model_id:
            raise _ApiError(404, f"model {body.get('model')!r} not found; this server serves {model_id!r}",
                            "not_found_error", "model")
        messages, settings = request_messages(body), request_settings(body, defaults)
        try:
            gen = await generator.submit(messages, settings)
        except HarnessError as e:
            raise _ApiError(400, str(e)) from None
        except Exception as e:  # noqa: BLE001
            raise _ApiError(500, f"generation failed: {type(e).__name__}: {e}", "server_error") from None
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": gen.raw},
                         "finish_reason": gen.finish_reason, "logprobs": None}],
            "usage": {"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
                      "total_tokens": gen.prompt_tokens + gen.completion_tokens},
        }

    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 = a free one); a taken port is one clear error."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise HarnessError(f"cannot listen on {host}:{port}: {e.strerror or e} (pick another --port)") from None
    sock.listen(128)
    return sock


def _server(app, log_level: str):
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False))


@contextlib.contextmanager
def serve_in_background(app, host: str = LOOPBACK, port: int = 0) -> Iterator[str]:
    """Run `app` in a thread of this process; yields the base URL (`http://host:port/v1`)."""
    sock = bind(host, port)
    server = _server(app, "warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="harness-serve")
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            sock.close()
            raise HarnessError(f"the embedded server on {host}:{sock.getsockname()[1]} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def serve_forever(app, host: str, port: int) -> None:
    sock = bind(host, port)
    try:
        _server(app, "info").run(sockets=[sock])
    finally:
        sock.close()
