"""`harness chat` (stdin, history, /reset, /exit) and `harness merge` (into the unquantized base)."""

from __future__ import annotations

import io
import json

import pytest
import torch

from harness.backends.hf import HFBackend
from harness.chat import chat_loop, chat_settings
from harness.checkpoint import resolve_checkpoint
from harness.generation_settings import GenerationSettings


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
