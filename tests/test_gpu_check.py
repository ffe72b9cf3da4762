"""bench/gpu_check.py: what it runs is printed by --dry-run on any machine; without a GPU it stops
with one line instead of training on the CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench" / "gpu_check.py"


def test_dry_run_prints_the_plan(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--work", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"train --config {REPO / 'configs' / 'lab1-qlora.yaml'}" in text and "--rescore none" in text
    assert "max_length=2048" in text and "max_steps=20" in text
    assert "plain TRL SFTTrainer" in text and "--side trl" in text
    assert f"run --suite lab1 --ckpt {tmp_path / 'harness-out' / 'final'}" in text
    # this machine has no Qwen3-1.7B in its cache: the real-vocab config at its sizes, random weights
    assert "random weights, Qwen3-1.7B's config, Qwen3's real tokenizer" in text
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


def test_without_a_gpu_it_stops_with_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        return  # on a GPU machine this would start the real check
    out = subprocess.run([sys.executable, str(SCRIPT), "--steps", "1", "--work", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "no CUDA GPU here" in out.stderr and "--dry-run" in out.stderr


def test_the_rows_fill_about_seq_tokens_of_the_real_tokenizer(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    from gpu_check import conversations
    from transformers import AutoTokenizer

    from qwen3_tokenizer import write_tokenizer

    tok = AutoTokenizer.from_pretrained(write_tokenizer(tmp_path / "tok"))
    rows = conversations(4, 512)
    lengths = [len(tok.apply_chat_template(r["messages"], tokenize=True, return_dict=True)["input_ids"]) for r in rows]
    assert all(384 <= n <= 640 for n in lengths), lengths
