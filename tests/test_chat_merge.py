"""`harness chat` (stdin, history, /reset, /exit) and `harness merge` (into the unquantized base)."""

from __future__ import annotations

import io
import json
import shutil

import pytest
import torch

from harness.models.backends.hf import HFBackend
from harness.app.chat import chat_loop, chat_settings
from harness.models.checkpoint import resolve_checkpoint
from harness.models.generation_settings import GenerationSettings


class Recording:
    """The real backend, remembering the conversations it was asked to continue."""

    def __init__(self, backend):
        self.backend, self.ckpt, self.seen = backend, backend.ckpt, []

    def generate(self, batch, settings, role="ckpt"):
        self.seen.append(([list(m) for m in batch], settings, role))
        return self.backend.generate(batch, settings, role=role)


@pytest.fixture(scope="module")
def adapter_backend(tiny_adapter):
    return HFBackend(resolve_checkpoint(str(tiny_adapter)))


def test_chat_keeps_history_resets_and_exits(adapter_backend):
    spy = Recording(adapter_backend)
    stdin = io.StringIO("hello there\nand then?\n/reset\nhello there\n/exit\nnever read\n")
    out = io.StringIO()
    answers = chat_loop(spy, chat_settings({"temperature": "0", "max_new_tokens": "5"}), system="Be brief.", stdin=stdin, stdout=out)
    assert answers == 3
    (first, _, _), (second, _, _), (after_reset, settings, role) = spy.seen
    assert [m["role"] for m in first[0]] == ["system", "user"]
    assert [m["role"] for m in second[0]] == ["system", "user", "assistant", "user"]
    assert second[0][3]["content"] == "and then?"
    assert after_reset == first  # /reset: the system prompt stays, the turns go
    assert role == "ckpt" and settings.max_new_tokens == 5 and settings.temperature == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("chat with") and "/reset" in lines[0]
    assert sum(line.startswith("assistant: ") for line in lines) == 3 and "(history cleared)" in lines
    assert lines[1] == lines[4]  # greedy: the same question after /reset, the same answer


def test_chat_defaults_are_the_interactive_settings():
    s = chat_settings({})
    assert (s.temperature, s.top_k, s.top_p, s.repetition_penalty, s.max_new_tokens) == (0.95, 20, 0.85, 1.2, 1024)


def test_harness_chat_reads_stdin(harness_cli, tiny_adapter, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("hi\n/exit\n"))
    code, out, err = harness_cli("chat", "--ckpt", tiny_adapter, "--role", "base", "--gen", "max_new_tokens=3")
    assert code == 0, err
    assert out.count("assistant: ") == 1


def test_merge_equals_the_adapter_and_saves_a_plain_model(harness_cli, tiny_adapter, adapter_backend, tmp_path):
    out = tmp_path / "merged"
    code, stdout, err = harness_cli("merge", "--ckpt", tiny_adapter, "--out", out, "--dtype", "fp32")
    assert code == 0, err
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert (out / "tokenizer.json").is_file() and not (out / "adapter_config.json").exists()
    info = json.loads((out / "merged_from.json").read_text())
    assert info["dtype"] == "fp32" and info["adapter"] == str(tiny_adapter.resolve())
    merged = HFBackend(resolve_checkpoint(str(out)))
    assert not merged.ckpt.has_base  # a plain model now
    conv = [[{"role": "user", "content": "用三句话介绍量子计算"}, {"role": "assistant", "content": "量子计算利用量子比特。"}]]
    (nll_merged, n1, _), = merged.loglikelihood(conv)
    (nll_adapter, n2, _), = adapter_backend.loglikelihood(conv, role="ckpt")
    (nll_base, _, _), = adapter_backend.loglikelihood(conv, role="base")
    assert n1 == n2 and nll_merged == pytest.approx(nll_adapter, rel=1e-4)
    assert nll_merged != pytest.approx(nll_base, rel=1e-3)  # the update really is in the weights
    prompts = [[{"role": "user", "content": "hello"}]]
    settings = GenerationSettings(max_new_tokens=6)
    assert merged.generate(prompts, settings)[0].raw == adapter_backend.generate(prompts, settings)[0].raw


def test_merge_in_bf16_by_default(harness_cli, tiny_adapter, tmp_path):
    code, _, err = harness_cli("merge", "--ckpt", tiny_adapter, "--out", tmp_path / "m")
    assert code == 0, err
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}


def test_harness_chat_to_a_served_model(harness_cli, adapter_backend, monkeypatch):
    """--ckpt URL --model-name: the same answer over harness serve's API as from the model in process."""
    from harness.serve.app import build_app, serve_in_background

    settings = chat_settings({"max_new_tokens": "8", "temperature": "0"})
    (direct,) = adapter_backend.generate([[{"role": "user", "content": "hello there"}]], settings)
    assert direct.text.strip()
    with serve_in_background(build_app(adapter_backend, "tiny-sft")) as url:
        monkeypatch.setattr("sys.stdin", io.StringIO("hello there\n/exit\n"))
        code, out, err = harness_cli("chat", "--ckpt", url, "--model-name", "tiny-sft", "--gen", "max_new_tokens=8", "--gen", "temperature=0")
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].startswith(f"chat with {url}")
        assert lines[1].startswith(f"assistant: {direct.text}")
        code, _, err = harness_cli("chat", "--ckpt", url, "--model-name", "tiny-sft", "--role", "base")
        assert code == 2 and "is not an adapter" in err


def test_merge_with_base_for_an_adapter_whose_base_moved(harness_cli, tiny_adapter, tiny_model, adapter_backend, tmp_path):
    moved = tmp_path / "adapter"
    shutil.copytree(tiny_adapter, moved)
    cfg = json.loads((moved / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tmp_path / "base-on-another-machine")
    (moved / "adapter_config.json").write_text(json.dumps(cfg))
    code, _, err = harness_cli("merge", "--ckpt", moved, "--out", tmp_path / "m0")
    assert code == 2 and "base-on-another-machine" in err and "--base" in err and not (tmp_path / "m0").exists()
    code, _, err = harness_cli("merge", "--ckpt", moved, "--base", tiny_model, "--out", tmp_path / "m", "--dtype", "fp32")
    assert code == 0, err
    assert json.loads((tmp_path / "m" / "merged_from.json").read_text())["base"] == str(tiny_model)
    conv = [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello there, friend."}]]
    (merged_nll, *_), = HFBackend(resolve_checkpoint(str(tmp_path / "m"))).loglikelihood(conv)
    (adapter_nll, *_), = adapter_backend.loglikelihood(conv, role="ckpt")
    assert merged_nll == pytest.approx(adapter_nll, rel=1e-4)
