"""`harness serve`: an OpenAI-compatible API for a local model or LoRA adapter, on FastAPI +
uvicorn, bound to 127.0.0.1 unless told otherwise.

It is the embedded judge (`--judge local:MODEL` starts one on a free port for the run) and lets
any OpenAI client talk to a checkpoint; lm-evaluation-harness's `local-completions` model can
evaluate it. Generation is the hf backend's, so a served answer is the answer `harness run`
would record. Requests that arrive together are batched (harness/serve/batching.py).

Routes:
  POST /v1/chat/completions   messages -> answer; SSE streaming, stop, logprobs
  POST /v1/completions        raw text or token ids -> continuation; SSE streaming, stop,
                              logprobs and echo (scoring a text: max_tokens 0 or 1 with echo)
  GET  /v1/models             the one model served
  GET  /health                200 while the generation worker runs, else 503
  GET  /tokenizer_info, POST /tokenize, POST /detokenize   vLLM's tokenizer routes

What a request may ask for is declared in harness/serve/requests.py; whatever the server cannot
honour is refused with HTTP 400, never dropped. Every error, unknown routes included, has the
OpenAI shape `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
import threading
import time
import uuid
from typing import Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from harness.errors import HarnessError
from harness.models.generation_settings import GenerationSettings
from harness.serve.batching import BatchingGenerator, Job, TokenLogprob
from harness.serve.requests import (
    ChatCompletionRequest, CompletionRequest, DetokenizeRequest, Refused, TokenizeRequest, describe_validation_error,
)

LOOPBACK = "127.0.0.1"
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               405: "invalid_request_error", 503: "server_error"}


def _error(status: int, message: str, kind: str | None = None, param: str | None = None):
    kind = kind or ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "param": param, "code": None}})


class _ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


class _Server:
    """The routes' shared state: the backend, the model id, the defaults and the worker."""

    def __init__(self, backend, model_id: str, defaults: GenerationSettings, generator: BatchingGenerator):
        self.backend, self.model_id, self.defaults, self.generator = backend, model_id, defaults, generator
        self.tokens = backend.tokenizer_view()

    def check_model(self, name: str | None) -> None:
        if name != self.model_id:
            raise _ApiError(404, f"model {name!r} not found; this server serves {self.model_id!r}", param="model")

    def prompt_ids(self, prompt) -> list[int]:
        ids = self.tokens.encode(prompt) if isinstance(prompt, str) else list(prompt)
        if not ids:
            raise _ApiError(400, "the prompt is empty (no tokens)", param="prompt")
        vocab = self.tokens.vocab_size
        if any(not 0 <= t < vocab for t in ids):
            raise _ApiError(400, f"prompt token ids must be in [0, {vocab})", param="prompt")
        return ids

    def token_text(self, token_id: int) -> str:
        return self.tokens.decode([token_id])

    async def run(self, job: Job) -> Job:
        try:
            return await self.generator.submit(job)
        except HarnessError as e:
            raise _ApiError(400, str(e)) from None
        except Exception as e:  # noqa: BLE001
            raise _ApiError(500, f"generation failed: {type(e).__name__}: {e}", "server_error") from None


def build_app(backend, model_id: str, *, defaults: GenerationSettings | None = None,
              api_key: str | None = None, max_batch_size: int = 8):
    """The FastAPI app serving `backend` (one with `capabilities().token_streams`) under the model id `model_id`."""
    if not backend.capabilities().token_streams:
        raise HarnessError(f"harness serve needs a backend that streams tokens (hf); the {backend.name} backend does not")
    generator = BatchingGenerator(backend, max_batch_size)
    server = _Server(backend, model_id, defaults or GenerationSettings(), generator)
    created = int(time.time())
    worker: dict[str, asyncio.Task] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        worker["task"] = asyncio.create_task(generator.run())
        while generator._queue is None:
            await asyncio.sleep(0)
        yield
        worker["task"].cancel()

    app = FastAPI(title="harness serve", lifespan=lifespan)
    app.state.generator = generator

    @app.exception_handler(_ApiError)
    async def api_error(request, e: _ApiError):
        return _error(e.status, e.message, e.kind, e.param)

    @app.exception_handler(Refused)
    async def refused(request, e: Refused):
        return _error(400, str(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, e: RequestValidationError):
        message, param = describe_validation_error(list(e.errors()))
        return _error(400, message, param=param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, e: StarletteHTTPException):  # unknown routes, wrong methods
        if e.status_code == 404:
            return _error(404, f"no route {request.method} {request.url.path} (routes: /v1/chat/completions, "
                               "/v1/completions, /v1/models, /health)")
        return _error(e.status_code, f"{request.method} {request.url.path}: {e.detail}")

    @app.middleware("http")
    async def check_key(request: Request, call_next):
        if api_key is not None and request.url.path != "/health":
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(sent.encode(), api_key.encode()):
                return _error(401, "invalid API key", "authentication_error")
        return await call_next(request)

    @app.get("/health")
    async def health():
        task = worker.get("task")
        if task is None or task.done():
            return _error(503, "the generation worker is not running", "server_error")
        return {"status": "ok", "model": model_id}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "sft-harness"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest):
        server.check_model(body.model)
        settings = body.generation_settings(server.defaults)
        messages = [{"role": m.role, "content": m.text()} for m in body.messages]
        try:
            prompt = backend.encode_chat(messages, settings)
        except Exception as e:  # noqa: BLE001 (a template that rejects the conversation)
            raise _ApiError(400, f"the chat template rejected the messages: {e}", param="messages") from None
        job = Job(prompt, settings, stop=body.stops, logprobs=body.wanted_logprobs())
        if body.stream:
            return _sse(_chat_chunks(server, job, body.include_usage))
        job = await server.run(job)
        s = job.stream
        choice = {"index": 0, "message": {"role": "assistant", "content": s.text},
                  "finish_reason": s.finish_reason, "logprobs": None}
        if job.token_logprobs is not None:
            choice["logprobs"] = _chat_logprobs(server, job.token_logprobs)
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": model_id, "choices": [choice], "usage": _usage(len(prompt), s.completion_tokens)}

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest):
        server.check_model(body.model)
        settings = body.generation_settings(server.defaults)
        jobs = [Job(server.prompt_ids(p), settings, stop=body.stops, logprobs=body.logprobs, echo=body.echo)
                for p in body.prompts()]
        if body.stream:
            if len(jobs) != 1:
                raise _ApiError(400, "stream: true takes one prompt per request", param="prompt")
            return _sse(_completion_chunks(server, jobs[0], body.include_usage))
        jobs = await asyncio.gather(*(server.run(j) for j in jobs))
        choices = []
        for i, job in enumerate(jobs):
            prompt_text = server.tokens.decode(job.prompt_ids) if body.echo else ""
            text = job.stream.text if job.stream else ""
            choices.append({"index": i, "text": prompt_text + text,
                            "finish_reason": job.stream.finish_reason if job.stream else "length",
                            "logprobs": _completion_logprobs(server, job.token_logprobs) if job.token_logprobs is not None else None})
        usage = _usage(sum(len(j.prompt_ids) for j in jobs), sum(j.stream.completion_tokens if j.stream else 0 for j in jobs))
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": model_id, "choices": choices, "usage": usage}

    @app.get("/tokenizer_info")
    async def tokenizer_info():
        return server.tokens.info()

    @app.post("/tokenize")
    async def tokenize(body: TokenizeRequest):
        if body.model is not None:
            server.check_model(body.model)
        tokens = server.tokens.encode(body.prompt, add_special_tokens=body.add_special_tokens)
        return {"count": len(tokens), "tokens": tokens, "max_model_len": server.tokens.model_max_length}

    @app.post("/detokenize")
    async def detokenize(body: DetokenizeRequest):
        if body.model is not None:
            server.check_model(body.model)
        return {"prompt": server.tokens.decode(body.tokens)}

    return app


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _chat_logprobs(server: _Server, rows: list[TokenLogprob]) -> dict:
    """The chat shape: per answer token its text (pieces that join to the answer), bytes and log-probability,
    and the alternatives (each decoded alone)."""
    pieces = server.tokens.pieces([t.token_id for t in rows])

    def entry(text: str, logprob: float) -> dict:
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

    return {"content": [entry(piece, t.logprob) | {"top_logprobs": [entry(server.token_text(i), lp) for i, lp in t.top]}
                        for piece, t in zip(pieces, rows)]}


def _completion_logprobs(server: _Server, rows: list[TokenLogprob]) -> dict:
    """The legacy completions shape: `tokens` join to the text; `top_logprobs` maps each alternative
    (decoded alone) to its log-probability and also holds the chosen token (as vLLM does)."""
    tokens = server.tokens.pieces([t.token_id for t in rows])
    offsets, offset = [], 0
    for text in tokens:
        offsets.append(offset)
        offset += len(text)
    top = [None if t.logprob is None else
           {server.token_text(i): lp for i, lp in t.top} | {server.token_text(t.token_id): t.logprob} for t in rows]
    return {"tokens": tokens, "token_logprobs": [t.logprob for t in rows], "top_logprobs": top, "text_offset": offsets}


# ---- streaming (server-sent events) -----------------------------------------------------------
def _sse(events):
    async def body():
        async for event in events:
            yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _pieces(server: _Server, job: Job):
    """Yields ("text", piece) as the answer grows, then ("done", job) or ("error", error body).
    A client that goes away cancels its row (the batch goes on without it)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    job.on_text = lambda piece: loop.call_soon_threadsafe(queue.put_nowait, piece)
    task = asyncio.create_task(server.run(job))
    task.add_done_callback(lambda t: queue.put_nowait(None))  # after every piece (same loop, FIFO)
    try:
        while (piece := await queue.get()) is not None:
            yield "text", piece
        try:
            yield "done", task.result()
        except _ApiError as e:
            yield "error", {"error": {"message": e.message, "type": e.kind or "server_error", "param": e.param, "code": None}}
    finally:
        job.cancelled.set()  # no-op once finished; stops the row if the client left mid-answer


async def _chat_chunks(server: _Server, job: Job, include_usage: bool):
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict, finish_reason=None) -> dict:
        return {"id": ident, "object": "chat.completion.chunk", "created": created, "model": server.model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}

    yield chunk({"role": "assistant", "content": ""})
    async for kind, value in _pieces(server, job):
        if kind == "text":
            yield chunk({"content": value})
        elif kind == "error":
            yield value
            return
        else:
            yield chunk({}, value.stream.finish_reason)
            if include_usage:
                yield {"id": ident, "object": "chat.completion.chunk", "created": created, "model": server.model_id,
                       "choices": [], "usage": _usage(len(value.prompt_ids), value.stream.completion_tokens)}


async def _completion_chunks(server: _Server, job: Job, include_usage: bool):
    ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(text: str, finish_reason=None) -> dict:
        return {"id": ident, "object": "text_completion", "created": created, "model": server.model_id,
                "choices": [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}]}

    async for kind, value in _pieces(server, job):
        if kind == "text":
            yield chunk(value)
        elif kind == "error":
            yield value
            return
        else:
            yield chunk("", value.stream.finish_reason)
            if include_usage:
                yield {"id": ident, "object": "text_completion", "created": created, "model": server.model_id,
                       "choices": [], "usage": _usage(len(value.prompt_ids), value.stream.completion_tokens)}


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
