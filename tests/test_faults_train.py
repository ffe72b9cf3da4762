"""`harness train` killed with SIGKILL and rerun with `--resume`: training continues from the last
complete checkpoint (optimizer and RNG states included, so the adapter ends as an uninterrupted
run's does), the checkpoint whose rescoring the kill cut short is rescored, and checkpoints
already in scores.jsonl are not scored again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

from test_train import write_config

TESTS = Path(__file__).resolve().parent
ENV = dict(os.environ, HF_HUB_OFFLINE="1")
STEPS = 4
FAST = {"max_steps": STEPS, "save_steps": 1, "eval_steps": 2, "warmup_ratio": 0.0,
        "rescore": {"suite": "lab1", "tasks": ["format", "ppl"], "max_samples": 2, "gen": {"max_new_tokens": 4},
                    "final": False}}


def _train(config: str, *extra: str, kill_after: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    args = ["train", "--config", config, *extra]
    if kill_after:
        command = [sys.executable, str(TESTS / "crash_points.py"), kill_after[0], str(kill_after[1]), "--", *args]
    else:
        command = [sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)


def _scores(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]


def _evals(out: Path, step: int) -> list[Path]:
    return sorted(out.glob(f"evals/*-checkpoint-checkpoint-{step}"))


def test_killed_training_resumes_and_rescores_each_checkpoint_once(tiny_model, tmp_path):
    reference = tmp_path / "ref"
    reference.mkdir()
    done = _train(write_config(reference, tiny_model, **FAST))
    assert done.returncode == 0, done.stderr

    config = write_config(tmp_path, tiny_model, **FAST)
    out = tmp_path / "out"
    scores = str(out / "scores.jsonl")

    # killed right after checkpoint 2's scores were written: checkpoints 1 and 2 are done
    killed = _train(config, kill_after=(scores, 2))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [s["step"] for s in _scores(out)] == [1, 2] and not (out / "final").exists()
    first_lines = (out / "scores.jsonl").read_bytes()

    # resumed, then killed while checkpoint 3 is being rescored (its first evaluation row)
    killed = _train(config, "--resume", kill_after=("samples.jsonl", 1))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "resuming from" in killed.stdout and "checkpoint-2" in killed.stdout
    assert (out / "checkpoint-3" / "trainer_state.json").is_file()
    assert (out / "scores.jsonl").read_bytes() == first_lines  # checkpoint 3 not scored yet

    # resumed again: checkpoint 3 (saved, not scored) is scored, training finishes
    done = _train(config, "--resume")
    assert done.returncode == 0, done.stderr
    assert "resuming from" in done.stdout and "checkpoint-3" in done.stdout
    lines = _scores(out)
    assert [s["step"] for s in lines] == [1, 2, 3, 4]
    assert (out / "scores.jsonl").read_bytes().startswith(first_lines)
    assert [len(_evals(out, step)) for step in (1, 2)] == [1, 1]  # never scored twice

    # the adapter is the uninterrupted run's: the optimizer state came back with the weights
    got, want = load_file(out / "final" / "adapter_model.safetensors"), load_file(reference / "out" / "final" / "adapter_model.safetensors")
    assert got.keys() == want.keys()
    assert max((got[k] - want[k]).abs().max().item() for k in got) < 1e-6
    ref_lines = _scores(reference / "out")
    assert [s["metrics"]["ppl/perplexity"]["ckpt"] for s in lines] == [s["metrics"]["ppl/perplexity"]["ckpt"] for s in ref_lines]

    # a rerun of the finished training trains and scores nothing again
    again = _train(config, "--resume")
    assert again.returncode == 0, again.stderr
    assert f"training finished at step {STEPS}" in again.stdout
    assert _scores(out) == lines and not (out / f"checkpoint-{STEPS + 1}").exists()


def test_resume_without_a_checkpoint_is_one_line(harness_cli, tiny_model, tmp_path):
    from test_cli_errors import assert_one_line_error

    code, _, err = harness_cli("train", "--config", write_config(tmp_path, tiny_model, **FAST), "--resume")
    assert_one_line_error(code, err, "--resume", "no complete checkpoint", str(tmp_path / "out"))
