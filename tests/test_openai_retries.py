"""harness.models.openai_client's retry loop around the openai package (max_retries=0: one call, one
HTTP attempt), against a real HTTP server on 127.0.0.1: the server's Retry-After forms are obeyed,
the backoff doubles from backoff_s, a wait longer than 2 minutes is not retried, a server's
x-should-retry is obeyed, every attempt is counted, and giving up also ends the retries of
requests already in flight."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.models.openai_client import ChatClient, ChatRequest, EndpointSettings

OK = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
      "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


class Script:
    """Answers each POST by `plan(n, body)` -> (status, headers); 200 gets a chat completion."""

    def __init__(self, plan):
        self.plan = plan
        self.requests = 0
        self.bodies: list[dict] = []
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def running(self):
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with script.lock:
                    script.requests += 1
                    n = script.requests
                    script.bodies.append(body)
                status, headers = script.plan(n, body)
                data = json.dumps(OK if status == 200 else {"error": {"message": f"scripted {status}"}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/v1"
        finally:
            server.shutdown()
            server.server_close()


PROMPT = [{"role": "user", "content": "hi"}]


def _send(url, requests, **settings):
    client = ChatClient(EndpointSettings(base_url=url, timeout_s=10, **settings), "m")
    return client, client.complete_all(requests)


def test_the_servers_retry_after_is_obeyed_in_both_forms_and_not_scaled_by_backoff():
    waits_asked = {1: {"retry-after-ms": "40"}, 2: {"Retry-After": "1"}}
    script = Script(lambda n, body: (429, waits_asked[n]) if n in waits_asked else (200, {}))
    with script.running() as url:
        client, (reply,) = _send(url, [ChatRequest(PROMPT)], retries=3, backoff_s=5.0)
    assert reply.ok and reply.content == "fine"
    assert client.waits == [0.04, 1.0]  # the server's waits, not 5 s of backoff
    assert reply.attempts == 3 and script.requests == 3 and client.http_attempts == 3 and client.retries == 2


def test_backoff_doubles_from_backoff_s():
    script = Script(lambda n, body: (500, {}) if n <= 3 else (200, {}))
    with script.running() as url:
        client, (reply,) = _send(url, [ChatRequest(PROMPT)], retries=3, backoff_s=0.02)
    assert reply.ok and reply.attempts == 4 and script.requests == 4
    assert client.waits == [0.02, 0.04, 0.08]


def test_the_servers_x_should_retry_overrides_the_status():
    script = Script(lambda n, body: (400, {"x-should-retry": "true"}) if n == 1 else (503, {"x-should-retry": "false"}))
    with script.running() as url:
        client, (reply,) = _send(url, [ChatRequest(PROMPT)], retries=3, backoff_s=0.01)
    assert not reply.ok and script.requests == 2 and reply.error == "HTTP 503: scripted 503"


def test_no_private_openai_method_is_touched():
    """Retries go through the openai client's public options only (an openai upgrade may change
    its private methods)."""
    import inspect

    import harness.models.openai_client as module

    source = inspect.getsource(module)
    for private in ("_prepare_request", "_calculate_retry_timeout", "_parse_retry_after_header", "_base_client"):
        assert private not in source


def test_a_retry_after_beyond_the_openai_cap_is_not_retried():
    script = Script(lambda n, body: (429, {"Retry-After": "3600"}))
    with script.running() as url:
        client, (reply,) = _send(url, [ChatRequest(PROMPT)], retries=3, backoff_s=0.01)
    assert not reply.ok and script.requests == 1 and client.waits == []
    assert reply.error == "HTTP 429: scripted 429 (after 1 attempts)"


def test_giving_up_ends_the_retries_of_requests_in_flight():
    """One request fails for good (400) while another is retrying 500s: with give_up_after=1 the
    second stops at its next attempt instead of using all 8 retries."""
    def plan(n, body):
        return (400, {}) if body["messages"][0]["content"] == "bad" else (500, {})

    script = Script(plan)
    requests = [ChatRequest(PROMPT), ChatRequest([{"role": "user", "content": "bad"}])]
    with script.running() as url:
        client, (retrying, bad) = _send(url, requests, retries=8, backoff_s=0.05, concurrency=2, give_up_after=1)
    assert bad.error == "HTTP 400: scripted 400"
    assert retrying.error == "gave up: the endpoint failed 1 requests in a row"
    sent_retrying = sum(b["messages"][0]["content"] == "hi" for b in script.bodies)
    assert retrying.attempts == sent_retrying < 9
    assert client.http_attempts == script.requests
