"""A judge endpoint that misbehaves on purpose: real HTTP on 127.0.0.1 (stdlib http.server).

`FaultyJudge` answers chat.completions with the well-formed verdicts of `ScriptedJudge` (computed
from the prompt), except for the prompts a fault applies to, which get one of FAULTS:

    http_500          HTTP 500 with an OpenAI-shaped error body
    http_429          HTTP 429, no Retry-After (the client's own backoff applies)
    http_429_after    HTTP 429 with `Retry-After: <retry_after_s>`
    hang              nothing for `hang_s` seconds (past the client's timeout), then the reply
    drop              headers and half the body, then the connection is closed
    invalid_json      HTTP 200 with a body cut mid-JSON
    no_choices        HTTP 200 with `"choices": []`
    wrong_language    HTTP 200, the verdict written with Chinese keywords ("判定：[[A]]")
    over_max_tokens   HTTP 200, a 200,000-character ramble with no verdict, finish_reason "length"

`delay_s` answers every request after a fixed delay (a remote API's latency); `gather` holds each
request until that many are in flight (a barrier: concurrency shown without timing).

A fault applies to a prompt when `selects(prompt)` is true (by default: every third prompt, by a
hash of its text, so the same prompts fail on every attempt and on every run, whatever the order
requests arrive in), for its first `times` attempts (None: every attempt). `recover()` ends all
faults: the server then answers every prompt well, as a judge endpoint does once it is fixed.
Every request is counted per prompt, so a test can tell which prompts were asked again.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from judge_servers import ScriptedJudge

FAULTS = ("http_500", "http_429", "http_429_after", "hang", "drop", "invalid_json", "no_choices",
          "wrong_language", "over_max_tokens")


def every_third(prompt: str) -> bool:
    return int(hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest(), 16) % 3 == 0


class FaultyJudge:
    def __init__(self, fault: str | None, *, selects: Callable[[str], bool] = every_third, times: int | None = None,
                 hang_s: float = 3.0, retry_after_s: int = 1, delay_s: float = 0.0, gather: int = 0):
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {FAULTS}")
        self.fault, self.selects, self.times = fault, selects, times
        self.hang_s, self.retry_after_s, self.delay_s = hang_s, retry_after_s, delay_s
        self.verdicts = ScriptedJudge()
        self.attempts: collections.Counter[str] = collections.Counter()  # prompt -> requests received
        self.arrivals: dict[str, list[float]] = collections.defaultdict(list)  # prompt -> monotonic times
        self.faulted: set[str] = set()  # prompts that got a fault at least once
        self.on_request: Callable[[int], None] | None = None  # called with the running request count
        self.gather = gather  # hold each request until this many are in flight (at most 1 s): a barrier
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._closing = threading.Event()

    @property
    def requests(self) -> int:
        return sum(self.attempts.values())

    def recover(self) -> None:
        self.fault = None

    def fault_for(self, prompt: str, attempt: int) -> str | None:
        if self.fault is None or not self.selects(prompt):
            return None
        if self.times is not None and attempt > self.times:
            return None
        return self.fault

    def handler(self):
        judge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send_bytes(self, status: int, data: bytes, headers: dict | None = None, *, cut_at: int | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if cut_at is None:
                    self.wfile.write(data)
                    return
                self.wfile.write(data[:cut_at])  # the connection dies mid-body
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

            def _completion(self, content: str, finish_reason: str = "stop", completion_tokens: int = 5) -> bytes:
                return json.dumps({
                    "id": "chatcmpl-fault", "object": "chat.completion", "created": 0, "model": "faulty-judge",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": finish_reason}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": completion_tokens,
                              "total_tokens": 10 + completion_tokens},
                }, ensure_ascii=False).encode("utf-8")

            def do_GET(self):
                self._send_bytes(200, json.dumps({"object": "list", "data": [{"id": "faulty-judge", "object": "model"}]}).encode())

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                prompt = body["messages"][-1]["content"]
                with judge._lock:
                    judge.attempts[prompt] += 1
                    judge.arrivals[prompt].append(time.monotonic())
                    attempt = judge.attempts[prompt]
                    fault = judge.fault_for(prompt, attempt)
                    if fault:
                        judge.faulted.add(prompt)
                    count = judge.requests
                    judge.in_flight += 1
                    judge.max_in_flight = max(judge.max_in_flight, judge.in_flight)
                    judge._arrived.notify_all()
                    if judge.gather:
                        judge._arrived.wait_for(lambda: judge.in_flight >= judge.gather, timeout=1)
                if judge.on_request:
                    judge.on_request(count)
                if judge.delay_s:
                    time.sleep(judge.delay_s)
                try:
                    self._answer(fault, prompt, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on us (a hang past its timeout)
                finally:
                    with judge._lock:
                        judge.in_flight -= 1

            def _answer(self, fault: str | None, prompt: str, body: dict):
                good = judge.verdicts.reply_to(prompt)
                if fault == "http_500":
                    self._send_bytes(500, json.dumps({"error": {"message": "injected fault 500", "type": "server_error"}}).encode())
                elif fault in ("http_429", "http_429_after"):
                    headers = {"Retry-After": str(judge.retry_after_s)} if fault == "http_429_after" else None
                    self._send_bytes(429, json.dumps({"error": {"message": "injected fault 429", "type": "rate_limit"}}).encode(), headers)
                elif fault == "hang":
                    judge._closing.wait(judge.hang_s)
                    self._send_bytes(200, self._completion(good))
                elif fault == "drop":
                    data = self._completion(good)
                    self._send_bytes(200, data, cut_at=len(data) // 2)
                elif fault == "invalid_json":
                    self._send_bytes(200, self._completion(good)[:40])
                elif fault == "no_choices":
                    data = json.loads(self._completion(good))
                    data["choices"] = []
                    self._send_bytes(200, json.dumps(data).encode())
                elif fault == "wrong_language":
                    translated = (good.replace("Verdict:", "判定：").replace("Label:", "标签：").replace("Reason:", "理由：")
                                  .replace("instruction_following:", "指令跟随：").replace("format_compliance:", "格式遵守：")
                                  .replace("safety:", "安全性：").replace("fluency:", "流畅性："))
                    self._send_bytes(200, self._completion(translated))
                elif fault == "over_max_tokens":
                    ramble = "Let me think about this very carefully once more. " * 4000
                    self._send_bytes(200, self._completion(ramble, "length", completion_tokens=40000))
                else:
                    self._send_bytes(200, self._completion(good))

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default listen backlog (5) drops connections a burst of 32 requests opens


@contextlib.contextmanager
def serving(judge: FaultyJudge):
    """Serve `judge` on a free 127.0.0.1 port; yields the base URL (`.../v1`)."""
    server = _Server(("127.0.0.1", 0), judge.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        judge._closing.set()  # hanging handlers return at once
        server.shutdown()
        server.server_close()
