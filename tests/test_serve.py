"""`harness serve` on the tiny model, spoken to with the real openai client over 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from harness.backends.hf import HFBackend
from harness.checkpoint import resolve_checkpoint
from harness.generation import GenerationSettings
from harness.serve import build_app, serve_in_background

HELLO = [{"role": "user", "content": "用三句话介绍量子计算"}]


@pytest.fixture(scope="module")
def backend(tiny_adapter):
    return HFBackend(resolve_checkpoint(str(tiny_adapter)))


@pytest.fixture(scope="module")
def served(backend):
    app = build_app(backend, "tiny-sft")
    with serve_in_background(app) as url:
        yield url, app


def _post(url: str, body) -> tuple[int, dict]:
    """A raw POST to /chat/completions (bodies the openai client would not send): (status, JSON reply)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/chat/completions", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _client(url, key="EMPTY"):
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=60)


def test_models_and_a_completion_match_the_backend(served, backend):
    url, _ = served
    assert url.startswith("http://127.0.0.1:")
    client = _client(url)
    assert [m.id for m in client.models.list()] == ["tiny-sft"]
    resp = client.chat.completions.create(model="tiny-sft", messages=HELLO, max_tokens=7, temperature=0)
    direct = backend.generate([HELLO], GenerationSettings(max_new_tokens=7))[0]
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == direct.raw
    assert choice.finish_reason == direct.finish_reason
    assert resp.usage.prompt_tokens == direct.prompt_tokens
    assert resp.usage.completion_tokens == direct.completion_tokens
    assert resp.usage.total_tokens == direct.prompt_tokens + direct.completion_tokens
    assert resp.model == "tiny-sft"


class GatedBackend:
    """The real backend behind a gate: records every generate call (the prompts and the settings
    it got), can hold calls until released, and fails on the prompt BOOM as a broken model would."""

    BOOM = "BOOM"

    def __init__(self, backend):
        self.backend = backend
        self.calls: list[tuple[list[str], GenerationSettings]] = []
        self.entered = threading.Event()  # a generate call has started
        self._open = threading.Event()
        self._open.set()

    def hold(self):
        self._open.clear()
        self.entered.clear()

    def release(self):
        self._open.set()

    def generate(self, batch, settings, role="ckpt"):
        self.calls.append(([m[-1]["content"] for m in batch], settings))
        self.entered.set()
        assert self._open.wait(timeout=60), "the test never released the gate"
        if any(m[-1]["content"] == self.BOOM for m in batch):
            raise RuntimeError("CUDA out of memory (scripted)")
        return self.backend.generate(batch, settings, role)


@pytest.fixture(scope="module")
def gated(backend):
    spy = GatedBackend(backend)
    app = build_app(spy, "tiny-sft")
    with serve_in_background(app) as url:
        yield url, app, spy


def test_every_request_setting_reaches_generation(gated):
    url, _, spy = gated
    _client(url).chat.completions.create(
        model="tiny-sft", messages=HELLO, max_tokens=4, temperature=0.8, top_p=0.9, seed=3,
        extra_body={"top_k": 20, "repetition_penalty": 1.2, "min_p": 0.01, "chat_template_kwargs": {"enable_thinking": False}},
    )
    _, settings = spy.calls[-1]
    assert settings == GenerationSettings(max_new_tokens=4, temperature=0.8, top_p=0.9, seed=3, top_k=20,
                                          repetition_penalty=1.2, min_p=0.01, enable_thinking=False)
    _client(url).chat.completions.create(model="tiny-sft", messages=HELLO, max_completion_tokens=6)
    assert spy.calls[-1][1] == GenerationSettings(max_new_tokens=6)  # the rest: the server's defaults


def _wait_for(condition, what: str):
    deadline = time.monotonic() + 60  # only against a hang; the condition decides
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def _held_round(url, app, spy, requests: list[dict]):
    """One request alone occupies the worker (held in generate); the others queue behind it;
    then the gate opens. Returns the replies of `requests` in order."""
    client = _client(url)
    ask = lambda kw: client.chat.completions.create(model="tiny-sft", **kw)  # noqa: E731
    spy.hold()
    with ThreadPoolExecutor(len(requests) + 1) as pool:
        first = pool.submit(ask, {"messages": [{"role": "user", "content": "occupy the worker"}], "max_tokens": 2})
        assert spy.entered.wait(timeout=60)
        futures = [pool.submit(ask, kw) for kw in requests]
        _wait_for(lambda: app.state.generator._queue.qsize() == len(requests), "the requests to queue up")
        spy.release()
        first.result()
        return [f.result() for f in futures]


def test_requests_that_queue_together_are_generated_as_one_batch(gated, backend):
    url, app, spy = gated
    before = len(app.state.generator.batches)
    prompts = [[{"role": "user", "content": f"count to {i}"}] for i in range(5)]
    replies = _held_round(url, app, spy, [{"messages": m, "max_tokens": 5} for m in prompts])
    assert app.state.generator.batches[before:] == [1, 5]
    direct = backend.generate(prompts, GenerationSettings(max_new_tokens=5))
    assert [r.choices[0].message.content for r in replies] == [g.raw for g in direct]


def test_mixed_settings_in_one_batch_are_generated_per_setting(gated, backend):
    url, app, spy = gated
    before = len(spy.calls)
    asks = [{"messages": [{"role": "user", "content": f"item {i}"}], "max_tokens": 3 if i % 2 else 6} for i in range(5)]
    replies = _held_round(url, app, spy, asks)
    calls = spy.calls[before + 1:]  # after the one that occupied the worker
    assert sorted(len(prompts) for prompts, _ in calls) == [2, 3]
    for prompts, settings in calls:  # each generate call got the requests of one setting
        assert {a["max_tokens"] for a in asks if a["messages"][0]["content"] in prompts} == {settings.max_new_tokens}
    for ask, reply in zip(asks, replies):
        (direct,) = backend.generate([ask["messages"]], GenerationSettings(max_new_tokens=ask["max_tokens"]))
        assert reply.choices[0].message.content == direct.raw


def test_a_failing_backend_is_an_openai_style_500_and_the_server_lives_on(gated):
    url, _, _ = gated
    status, reply = _post(url, {"model": "tiny-sft", "messages": [{"role": "user", "content": "BOOM"}]})
    assert status == 500
    assert reply == {"error": {"message": "generation failed: RuntimeError: CUDA out of memory (scripted)",
                                     "type": "server_error", "param": None, "code": None}}
    with pytest.raises(openai.InternalServerError):
        _client(url).chat.completions.create(model="tiny-sft", messages=[{"role": "user", "content": "BOOM"}])
    assert _client(url).chat.completions.create(model="tiny-sft", messages=HELLO, max_tokens=2).choices[0].message.role == "assistant"


@pytest.mark.parametrize("body, fragment", [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools not supported"),
    ({"functions": [{"name": "f", "parameters": {}}]}, "functions not supported"),
    ({"logprobs": True}, "logprobs not supported"),
    ({"chat_template_kwargs": ["enable_thinking"]}, "chat_template_kwargs must be an object"),
    ({"messages": []}, "messages must be a non-empty list"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0]: role must be system, user or assistant"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0]: only text content parts are supported"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0]: content must be a string"),
    ({"top_k": -1}, "top_k must be >= 0"),
    ({"chat_template_kwargs": {"enable_thinking": "maybe"}}, "enable_thinking must be true or false"),
])
def test_refused_fields_are_named_never_ignored(gated, body, fragment):
    url, _, spy = gated
    before = len(spy.calls)
    payload = {"model": "tiny-sft", "messages": HELLO, "max_tokens": 2} | body
    status, reply = _post(url, payload)
    assert status == 400, reply
    error = reply["error"]
    assert fragment in error["message"] and error["type"] == "invalid_request_error"
    assert len(spy.calls) == before  # nothing was generated


def test_a_body_that_is_not_a_json_object(gated):
    url, _, _ = gated
    for content in (b"{not json", b"[1, 2]"):
        status, reply = _post(url, content)
        assert status == 400 and "request body" in reply["error"]["message"]


@pytest.mark.parametrize("kwargs, status, fragment", [
    ({"model": "other"}, 404, "not found"),
    ({"stream": True}, 400, "streaming not supported"),
    ({"n": 2}, 400, "n=1"),
    ({"stop": ["\n"]}, 400, "stop sequences"),
    ({"temperature": -1}, 400, "temperature must be >= 0"),
    ({"max_tokens": 0}, 400, "max_new_tokens must be >= 1"),
])
def test_bad_requests_get_openai_style_errors(served, kwargs, status, fragment):
    url, _ = served
    args = {"model": "tiny-sft", "messages": HELLO, "max_tokens": 3} | kwargs
    with pytest.raises(openai.APIStatusError) as e:
        _client(url).chat.completions.create(**args)
    assert e.value.status_code == status
    assert fragment in e.value.body["message"] if isinstance(e.value.body, dict) else fragment in str(e.value)


def test_api_key_is_enforced_when_configured(backend):
    app = build_app(backend, "tiny-sft", api_key="sk-serve-test")
    with serve_in_background(app) as url:
        with pytest.raises(openai.AuthenticationError):
            _client(url, key="wrong").models.list()
        assert [m.id for m in _client(url, key="sk-serve-test").models.list()] == ["tiny-sft"]


def test_harness_serve_command(tiny_model, tmp_path):
    """The CLI entry: starts on 127.0.0.1, answers, stops on SIGTERM."""
    from judge_servers import reserved_port

    env = dict(os.environ, HF_HUB_OFFLINE="1")
    with reserved_port() as port:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--model", str(tiny_model), "--port", str(port),
                                 "--model-name", "tiny"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            client = _client(f"http://127.0.0.1:{port}/v1")
            deadline = time.time() + 90
            while True:
                try:
                    assert [m.id for m in client.models.list()] == ["tiny"]
                    break
                except openai.APIConnectionError:
                    assert proc.poll() is None, proc.stdout.read()
                    assert time.time() < deadline, "harness serve did not start"
                    time.sleep(0.2)
            resp = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=3)
            assert resp.usage.completion_tokens <= 3
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert proc.returncode is not None


def test_a_non_loopback_host_is_warned_about(harness_cli, tiny_model):
    """--host other than 127.0.0.1 prints a warning (and that no key protects it) before binding.
    The port is taken, so the test never really listens on the network."""
    import socket

    from test_cli_errors import assert_one_line_error

    taken = socket.socket()
    taken.bind(("0.0.0.0", 0))
    taken.listen(1)
    try:
        code, out, err = harness_cli("serve", "--model", tiny_model, "--host", "0.0.0.0", "--port", taken.getsockname()[1])
    finally:
        taken.close()
    assert_one_line_error(code, err, "cannot listen on 0.0.0.0:")
    assert "listening on 0.0.0.0: other machines can reach this server" in out
    assert "(no --api-key-env: anyone can use it)" in out
