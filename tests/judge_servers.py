"""Real HTTP servers on 127.0.0.1 for judge tests (stdlib http.server, not our own serve code).

`ScriptedJudge` answers chat.completions with fixed, well-formed verdicts computed from the
prompt (a tiny random model only answers nonsense), counts requests, can fail the first ones
with given HTTP statuses (429s carry a chosen Retry-After), stall them past a timeout, or hold
them until a number of requests are in flight at once, and records the Authorization headers.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_LIMIT_S = 20.0

PAIR_RE = {
    "en": (r"\[The Start of Answer A\]\n(.*?)\n\[The End of Answer A\]", r"\[The Start of Answer B\]\n(.*?)\n\[The End of Answer B\]"),
    "zh": (r"\[回答 A 开始\]\n(.*?)\n\[回答 A 结束\]", r"\[回答 B 开始\]\n(.*?)\n\[回答 B 结束\]"),
}
SINGLE_RE = (r"\[The Start of the Answer\]\n(.*?)\n\[The End of the Answer\]", r"\[回答开始\]\n(.*?)\n\[回答结束\]")


def _find(patterns, text: str) -> str | None:
    for p in patterns:
        m = re.search(p, text, re.DOTALL)
        if m:
            return m.group(1)
    return None


def pair_answers(prompt: str) -> tuple[str, str] | None:
    for a_re, b_re in PAIR_RE.values():
        a, b = _find([a_re], prompt), _find([b_re], prompt)
        if a is not None and b is not None:
            return a, b
    return None


def single_answer(prompt: str) -> str | None:
    return _find(SINGLE_RE, prompt)


def rubric_scores(answer: str) -> dict[str, int]:
    """What the scripted judge gives an answer (tests recompute it from samples.jsonl)."""
    return {"instruction_following": 1 + len(answer) % 10, "format_compliance": 5, "safety": 10, "fluency": 1 + len(answer) % 7}


def refusal_label(answer: str) -> str:
    return "full_refusal" if len(answer) % 2 == 0 else "compliance"


class ScriptedJudge:
    """pairwise: 'prefer_a' (always position A: every verdict flips with the order) or
    'prefer_longer' (consistent); 'nonsense' answers no verdict at all; 'fancy' answers the
    right verdict typed with full-width and zero-width characters."""

    def __init__(self, pairwise: str = "prefer_longer", *, fail_first: list[int] | None = None,
                 stall_first_s: float = 0.0, stall_count: int = 0, nonsense: bool = False, fancy: bool = False,
                 retry_after: str = "0", hold_until_in_flight: int = 0, then_hold_s: float = 0.0):
        self.pairwise = pairwise
        self.fail_first = list(fail_first or [])
        self.retry_after = retry_after  # the Retry-After header of scripted 429s
        # > 0: every request waits until that many are in flight at once (a barrier, not a clock);
        # HOLD_LIMIT_S only keeps a broken client from hanging the test.
        self.hold_until_in_flight = hold_until_in_flight
        self.then_hold_s = then_hold_s  # ... and then answers that much later (room for a request too many)
        self._in_flight_changed = threading.Condition()
        self.stall_first_s, self.stall_count = stall_first_s, stall_count
        self.nonsense, self.fancy = nonsense, fancy
        self.requests = 0
        self.in_flight = self.max_in_flight = 0  # requests being answered at once
        self.auth_headers: list[str] = []
        self.models: list[str] = []

    def reply_to(self, prompt: str) -> str:
        if self.nonsense:
            return "Both answers are lovely. I would give them a thumbs up!"
        pair = pair_answers(prompt)
        if pair is not None:
            a, b = pair
            if self.pairwise == "prefer_a":
                choice = "A"
            else:
                choice = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
            if self.fancy:  # full-width letters and colon, a zero-width space, odd case and spacing
                wide = {"A": "Ａ", "B": "Ｂ", "tie": "ＴＩＥ"}[choice]
                return f"ＲＥＡＳＯＮ： scripted\u200b\n  vErDiCt ：  ［［{wide}］］  "
            return f"Reason: scripted ({self.pairwise}).\nVerdict: [[{choice}]]"
        answer = single_answer(prompt)
        if answer is None:
            return "no answer found in the prompt"
        if "instruction_following" in prompt:
            lines = [f"{d}: {s}" for d, s in rubric_scores(answer).items()]
            return "\n".join(lines + ["Reason: scripted rubric."])
        return f"Reason: scripted refusal check.\nLabel: [[{refusal_label(answer)}]]"

    def handler(self):
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": "scripted-judge", "object": "model"}]})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with judge._in_flight_changed:
                    judge.requests += 1
                    n = judge.requests
                    judge.auth_headers.append(self.headers.get("Authorization", ""))
                    judge.models.append(body.get("model"))
                    judge.in_flight += 1
                    judge.max_in_flight = max(judge.max_in_flight, judge.in_flight)
                    judge._in_flight_changed.notify_all()
                    if judge.hold_until_in_flight:
                        judge._in_flight_changed.wait_for(
                            lambda: judge.in_flight >= judge.hold_until_in_flight, timeout=HOLD_LIMIT_S)
                if judge.hold_until_in_flight:
                    time.sleep(judge.then_hold_s)
                try:
                    self._answer(n, body)
                finally:
                    with judge._in_flight_changed:
                        judge.in_flight -= 1

            def _answer(self, n: int, body: dict):
                if n <= len(judge.fail_first) and judge.fail_first[n - 1] != 200:  # 200: answer this one
                    status = judge.fail_first[n - 1]
                    self._send(status, {"error": {"message": f"scripted failure {status}", "type": "server_error"}},
                               {"Retry-After": judge.retry_after} if status == 429 else None)
                    return
                if n <= judge.stall_count:
                    time.sleep(judge.stall_first_s)
                content = judge.reply_to(body["messages"][-1]["content"])
                self._send(200, {
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                })

        return Handler


@contextlib.contextmanager
def running(judge: ScriptedJudge):
    """Serve `judge` on a free 127.0.0.1 port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), judge.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


_HELD: list[socket.socket] = []  # sockets kept bound until the test session ends
atexit.register(lambda: [s.close() for s in _HELD])


def closed_port() -> int:
    """A 127.0.0.1 port that refuses connections for the rest of the test session: it stays bound
    (so no other process can take it) but never listens."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return s.getsockname()[1]


@contextlib.contextmanager
def reserved_port():
    """A free 127.0.0.1 port for a server in another process: held bound (not listening) with
    SO_REUSEADDR until the block ends, so no other program can take it meanwhile, while a server
    that also sets SO_REUSEADDR (harness serve does) can still bind it and listen (Linux)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()
