"""`harness train` across processes: `accelerate launch --multi_gpu --num_processes 2` on a CPU (gloo), the tiny
model, QLoRA as in a real run, against the same training in one process with the same effective
batch. Every process trains; the main one alone writes checkpoints, scores.jsonl, the evaluations,
the plot and the summary (the other waits while it rescores), and the numbers match the
single-process run within float tolerance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from judge_servers import reserved_port

ENV = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
STEPS = 3
CONVS = [[{"role": "user", "content": f"Only output a JSON object with keys name and score for student {i}."},
          {"role": "assistant", "content": json.dumps({"name": f"s{i}", "score": i})}] for i in range(8)]


def _config(root: Path, model: Path, per_device: int) -> str:
    """The training set is one effective batch (4 conversations), so one step sees all of it in
    both set-ups: two processes x 2 conversations, or one process x 4."""
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", CONVS[:4]), ("val.jsonl", CONVS[4:])):
        (root / name).write_text("".join(json.dumps({"messages": c}) + "\n" for c in rows))
    config = {
        "model": str(model), "output_dir": str(root / "out"),
        "data": {"train": str(root / "train.jsonl"), "validation": str(root / "val.jsonl")},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0}, "per_device_batch_size": per_device, "gradient_accumulation_steps": 1,
        "max_steps": STEPS, "warmup_ratio": 0.0, "max_length": 128, "learning_rate": 1e-2, "logging_steps": 1,
        "save_steps": 1, "eval_steps": 1, "gradient_checkpointing": False,
        "rescore": {"suite": "lab1", "tasks": ["format", "ppl"], "max_samples": 2, "gen": {"max_new_tokens": 4},
                    "final": True, "final_gen": {"max_new_tokens": 2}},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return str(root / "config.yaml")


def _losses(out: Path) -> dict[str, list[float]]:
    history = json.loads((out / "training_summary.json").read_text())
    return {"train": [x for _, x in history["train_loss"]], "eval": [x for _, x in history["eval_loss"]]}


def _close(a: list[float], b: list[float], rel: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= rel * abs(y) for x, y in zip(a, b))


def test_two_processes_train_like_one_and_only_the_main_one_rescores(tiny_model, tmp_path):
    single = subprocess.run([sys.executable, "-m", "harness.cli", "train", "--config", _config(tmp_path / "one", tiny_model, 4)],
                            env=ENV, capture_output=True, text=True, timeout=900)
    assert single.returncode == 0, single.stderr
    # accelerate's multi-process launcher (torchrun underneath; "--multi_gpu" is its name, on a CPU the
    # processes talk over gloo). `accelerate launch --cpu` would start one process unless MPI is set up.
    with reserved_port() as port:  # held bound (SO_REUSEADDR, not listening) until torch's store has it: no race
        launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                  "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
                  "-m", "harness.cli", "train", "--config", _config(tmp_path / "two", tiny_model, 2)]
        two = subprocess.run(launch, env=ENV, capture_output=True, text=True, timeout=900)
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-4000:]

    out = tmp_path / "two" / "out"
    assert "effective batch 4 (2 x 1 x 2 processes)" in two.stdout
    # one set of checkpoints, one scores.jsonl line per checkpoint and one for the final adapter
    assert sorted(p.name for p in out.glob("checkpoint-*")) == [f"checkpoint-{s}" for s in range(1, STEPS + 1)]
    lines = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
    assert [(x["step"], x["profile"]) for x in lines] == [(s, "checkpoint") for s in range(1, STEPS + 1)] + [(None, "final")]
    evals = sorted(p.name.split("-", 2)[-1] for p in (out / "evals").iterdir() if not p.name.startswith("base-"))
    assert evals == sorted([f"checkpoint-checkpoint-{s}" for s in range(1, STEPS + 1)] + ["final-final"]), evals
    assert {p.name for p in (out / "evals").glob("base-*")} == {"base-checkpoint", "base-final"}
    assert sum(line.startswith(f"step {s} ") for s in range(1, STEPS + 1) for line in two.stdout.splitlines()) == STEPS
    assert two.stdout.count("Training summary:") == 1 and (out / "training_loss.png").is_file()

    # the same training as in one process, within float tolerance (the loss is averaged per process
    # before it is averaged across processes; Adam's first steps magnify rounding in tiny gradients)
    one_out = tmp_path / "one" / "out"
    ones = [json.loads(x) for x in (one_out / "scores.jsonl").read_text().splitlines()]
    got, want = _losses(out), _losses(one_out)
    assert _close(got["train"], want["train"], 1e-3) and _close(got["eval"], want["eval"], 1e-3), (got, want)
    ppl = [x["metrics"]["ppl/perplexity"]["ckpt"] for x in lines]
    assert _close(ppl, [x["metrics"]["ppl/perplexity"]["ckpt"] for x in ones], 1e-3), ppl
    assert want["train"][-1] < want["train"][0] and got["train"][-1] < got["train"][0]  # both really trained
