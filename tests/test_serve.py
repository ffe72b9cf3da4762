"""`harness serve` on the tiny model, spoken to with the real openai client over 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from harness.models.backends.hf import HFBackend
from harness.models.checkpoint import resolve_checkpoint
from harness.models.generation_settings import GenerationSettings
from harness.serve.app import build_app, serve_in_background

HELLO = [{"role": "user", "content": "用三句话介绍量子计算"}]


@pytest.fixture(scope="module")
def backend(tiny_adapter):
    return HFBackend(resolve_checkpoint(str(tiny_adapter)))


@pytest.fixture(scope="module")
def served(backend):
    app = build_app(backend, "tiny-sft")
    with serve_in_background(app) as url:
        yield url, app


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
    # serve returns the tokens' text as decoded; a scored answer cut by the token limit drops a
    # half-decoded last character (U+FFFD), which only the served text may still end in
    assert choice.message.role == "assistant" and choice.message.content.rstrip("\ufffd") == direct.raw
    assert choice.message.content.startswith(direct.raw)
    assert choice.finish_reason == direct.finish_reason
    assert resp.usage.prompt_tokens == direct.prompt_tokens
    assert resp.usage.completion_tokens == direct.completion_tokens
    assert resp.usage.total_tokens == direct.prompt_tokens + direct.completion_tokens
    assert resp.model == "tiny-sft"


def _answer(url, extra_body=None, **kwargs) -> str:
    resp = _client(url).chat.completions.create(model="tiny-sft", messages=HELLO, max_tokens=8, extra_body=extra_body, **kwargs)
    return resp.choices[0].message.content


@pytest.mark.parametrize("narrowing", [{"top_p": 0.001}, {"extra_body": {"top_k": 1}}, {"extra_body": {"min_p": 0.999999}}])
def test_each_sampling_field_reaches_generation(served, narrowing):
    """Each field, set to keep only the likeliest token, turns a sampled answer back into the
    greedy one; dropped on the way, the sampled answer stays different."""
    url, _ = served
    greedy = _answer(url, temperature=0)
    sampled = dict(temperature=1.0, seed=7)
    assert _answer(url, **sampled) != greedy
    assert _answer(url, **sampled) == _answer(url, **sampled)  # seeded: the same answer again
    assert _answer(url, **sampled | {"seed": 8}) != _answer(url, **sampled)  # and the seed reaches generation
    assert _answer(url, **sampled | narrowing) == greedy


def test_repetition_penalty_and_enable_thinking_reach_generation(served, backend):
    url, _ = served
    assert _answer(url, temperature=0, extra_body={"repetition_penalty": 5.0}) != _answer(url, temperature=0)
    tok = backend.tokenizer
    original = tok.chat_template
    tok.chat_template = original + "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}"
    try:
        def prompt_tokens(thinking):
            return _client(url).chat.completions.create(
                model="tiny-sft", messages=HELLO, max_tokens=1, temperature=0,
                extra_body={"chat_template_kwargs": {"enable_thinking": thinking}}).usage.prompt_tokens
        assert prompt_tokens(False) > prompt_tokens(True)  # the empty think block is in the prompt
    finally:
        tok.chat_template = original


@pytest.mark.parametrize("kwargs, status, fragment", [
    ({"model": "other"}, 404, "not found"),
    ({"n": 2}, 400, "n=1"),
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


def test_a_backend_failure_is_a_500_in_the_openai_error_shape_and_the_server_goes_on(served, backend, monkeypatch):
    url, _ = served

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(backend, "generate_streams", broken)
    with pytest.raises(openai.InternalServerError) as e:
        _client(url).chat.completions.create(model="tiny-sft", messages=HELLO, max_tokens=3)
    assert e.value.status_code == 500
    assert e.value.body["type"] == "server_error"
    assert e.value.body["message"] == "generation failed: RuntimeError: out of memory (simulated)"
    monkeypatch.undo()
    reply = _client(url).chat.completions.create(model="tiny-sft", messages=HELLO, max_tokens=3)
    assert reply.choices[0].finish_reason in ("length", "stop")


class GatedBackend:
    """The real backend behind a gate: records every generate call (its prompts and settings) and can
    hold calls until the test releases them, so which requests queue together is decided by the
    test, not by timing."""

    def __init__(self, backend):
        self.backend = backend
        self.calls: list[tuple[int, GenerationSettings]] = []
        self.entered = threading.Event()  # a generate call has started
        self._open = threading.Event()
        self._open.set()

    def __getattr__(self, name):  # everything but generation: the real backend's
        return getattr(self.backend, name)

    def hold(self):
        self._open.clear()
        self.entered.clear()

    def release(self):
        self._open.set()

    def generate_streams(self, prompts, settings, streams):
        self.calls.append((len(prompts), settings))
        self.entered.set()
        assert self._open.wait(timeout=60), "the test never released the gate"
        return self.backend.generate_streams(prompts, settings, streams)


@pytest.fixture(scope="module")
def gated(backend):
    spy = GatedBackend(backend)
    app = build_app(spy, "tiny-sft")
    with serve_in_background(app) as url:
        yield url, app, spy


def _wait_for(condition, what: str):
    deadline = time.monotonic() + 60  # only against a hang; the condition decides
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def _held_round(url, app, spy, requests: list[dict]):
    """One request alone occupies the worker (held in generate); the others queue behind it; then
    the gate opens. Returns the replies of `requests` in order."""
    client = _client(url)
    ask = lambda kw: client.chat.completions.create(model="tiny-sft", **kw)  # noqa: E731
    spy.hold()
    try:
        with ThreadPoolExecutor(len(requests) + 1) as pool:
            first = pool.submit(ask, {"messages": [{"role": "user", "content": "occupy the worker"}], "max_tokens": 2})
            assert spy.entered.wait(timeout=60)
            futures = [pool.submit(ask, kw) for kw in requests]
            _wait_for(lambda: app.state.generator._queue.qsize() == len(requests), "the requests to queue up")
            spy.release()
            first.result()
            return [f.result() for f in futures]
    finally:
        spy.release()


def test_requests_that_queue_together_are_generated_as_one_batch(gated, backend):
    url, app, spy = gated
    before = len(app.state.generator.batches)
    prompts = [[{"role": "user", "content": f"count to {i}"}] for i in range(5)]
    replies = _held_round(url, app, spy, [{"messages": m, "max_tokens": 5, "temperature": 0} for m in prompts])
    assert app.state.generator.batches[before:] == [1, 5]
    direct = backend.generate(prompts, GenerationSettings(max_new_tokens=5))
    assert [r.choices[0].message.content.rstrip("\ufffd") for r in replies] == [g.raw for g in direct]


def test_requests_with_different_settings_never_share_a_batch(gated):
    """One generate call has one set of settings: a request batched with another setting would be
    answered with that request's settings."""
    url, app, spy = gated
    before = len(spy.calls)
    asks = [{"messages": [{"role": "user", "content": f"item {i}"}], "max_tokens": 3 if i % 2 else 6} for i in range(5)]
    replies = _held_round(url, app, spy, asks)
    calls = spy.calls[before + 1:]  # after the one that occupied the worker
    assert sorted((n, s.max_new_tokens) for n, s in calls) == [(2, 3), (3, 6)]
    for ask, reply in zip(asks, replies):
        assert reply.usage.completion_tokens <= ask["max_tokens"]


def test_api_key_is_enforced_when_configured(backend):
    app = build_app(backend, "tiny-sft", api_key="sk-serve-test")
    with serve_in_background(app) as url:
        with pytest.raises(openai.AuthenticationError):
            _client(url, key="wrong").models.list()
        assert [m.id for m in _client(url, key="sk-serve-test").models.list()] == ["tiny-sft"]


def test_harness_serve_command(tiny_model, tmp_path):
    """The CLI entry: starts on 127.0.0.1, answers, stops on SIGTERM."""
    from judge_servers import reserved_port

    with reserved_port() as port:  # held bound, not listening, until serve has it (serve sets SO_REUSEADDR)
        env = dict(os.environ, HF_HUB_OFFLINE="1")
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
