"""Thinking models (Qwen3): lab1 turns thinking off explicitly, and a run warns about and counts
answers that end inside a <think> block.

The model is a stand-in served over the OpenAI API on 127.0.0.1 (stdlib http.server), behaving
like Qwen3 behind vLLM: with `chat_template_kwargs.enable_thinking` false it answers at once;
otherwise it thinks, and a short max_tokens cuts it off inside <think>.
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import load_json, only_run_dir

from harness.text import ends_inside_thinking, split_thinking


class ThinkingModel:
    def __init__(self):
        self.thinking_flags: list = []  # what each request asked for

    def reply(self, body: dict) -> tuple[str, str]:
        thinking = (body.get("chat_template_kwargs") or {}).get("enable_thinking", True)
        self.thinking_flags.append(thinking)
        if not thinking:
            return '{"name": "Ada", "score": 90}', "stop"
        return "<think>\nThe user wants JSON. Let me consider which keys to use, then check the", "length"


@contextlib.contextmanager
def serving(model: ThinkingModel):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, body: dict):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({"object": "list", "data": [{"id": "qwen3-standin", "object": "model"}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            content, finish = model.reply(body)
            self._send({"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 20, "completion_tokens": 160, "total_tokens": 180}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def thinking_model():
    model = ThinkingModel()
    with serving(model) as url:
        yield model, url


def test_lab1_asks_for_no_thinking_by_default(harness_cli, thinking_model, tmp_path):
    model, url = thinking_model
    code, out, err = harness_cli("run", "--ckpt", url, "--model-name", "qwen3-standin", "--task", "format",
                                 "--runs-dir", tmp_path)
    assert code == 0, err
    assert model.thinking_flags and set(model.thinking_flags) == {False}
    summary = load_json(only_run_dir(tmp_path) / "summary.json")
    assert summary["unfinished_thinking"] == {"ckpt": 0}
    assert "<think>" not in out


def test_answers_cut_off_inside_think_are_counted_and_warned_about(harness_cli, thinking_model, tmp_path):
    model, url = thinking_model
    code, out, err = harness_cli("run", "--ckpt", url, "--model-name", "qwen3-standin", "--task", "format",
                                 "--gen", "enable_thinking=true", "--runs-dir", tmp_path)
    assert code == 0, err
    assert set(model.thinking_flags) == {True}
    run = only_run_dir(tmp_path)
    summary = load_json(run / "summary.json")
    assert summary["unfinished_thinking"] == {"ckpt": 19}  # every format prompt
    assert "19 ckpt answer(s) ended inside a <think> block" in " ".join(out.split())
    assert "enable_thinking=false" in out
    assert "ended inside a <think> block" in (run / "report.md").read_text()


def test_a_closed_think_block_is_not_unfinished():
    assert ends_inside_thinking("<think>plan</think>\nThe answer.") is False
    assert ends_inside_thinking("<think>plan</think>\n<think>more") is True
    assert ends_inside_thinking("The answer, no thinking at all.") is False
    assert split_thinking("<think>plan") == ""  # the same rule decides what scorers see
