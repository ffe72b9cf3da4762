"""GPU check: the lab's own path on an NVIDIA GPU, as one prepared script.

1. The model: Qwen/Qwen3-1.7B from the Hugging Face cache when it is there; otherwise a model with
   Qwen3-1.7B's config (28 layers, hidden 2048, 151,936 vocabulary) and random weights, with
   Qwen3's real tokenizer (tests/data/qwen3-tokenizer): it trains at the same speed.
2. The data: UltraChat-shaped multi-turn conversations that fill about --seq tokens each.
3. `harness train --config configs/lab1-qlora.yaml` for --steps steps (QLoRA 4-bit NF4, r=32 /
   alpha 64 all-linear, batch 4 x accumulation 4, seq --seq, activation checkpointing, bf16,
   paged AdamW), no rescoring while it trains, in its own process.
4. A plain TRL `SFTTrainer` script with the same settings on the same data, in its own process
   (it computes the loss on every token: TRL has no training template for Qwen3's first-release
   template, and the mask does not change the speed).
5. `harness run --suite lab1 --ckpt <the adapter>`: the lab's rescoring of the trained adapter
   (thinking off, as suites/lab1.yaml says).

It prints tokens/s (non-padding tokens over the time of optimizer steps, the same callback on both
sides) and peak GPU memory (torch.cuda.max_memory_allocated) for 3 and 4 side by side, and the
wall time of every phase.

    python bench/gpu_check.py --dry-run          # what it would run (any machine)
    python bench/gpu_check.py                    # 20 steps at seq 2048 (needs an NVIDIA GPU)
    python bench/gpu_check.py --steps 10 --seq 1024 --work /tmp/gpu-check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # qwen3_tokenizer: the real tokenizer and Qwen3-1.7B's sizes
LAB_CONFIG = REPO / "configs" / "lab1-qlora.yaml"
HUB_ID = "Qwen/Qwen3-1.7B"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
WORDS = ("model data train loss token batch learning rate adapter rank alpha quantization memory gradient step "
         "epoch schedule warmup cosine evaluation prompt answer format json table safety refusal").split()


def cached_model() -> str | None:
    """The snapshot folder of Qwen/Qwen3-1.7B in the Hugging Face cache, if one is complete enough to load."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    config = try_to_load_from_cache(HUB_ID, "config.json")
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    has_weights = any(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").is_file()
    return str(folder) if has_weights and (folder / "tokenizer.json").is_file() else None


def conversations(n: int, seq: int, seed: int = 0) -> list[dict]:
    """UltraChat-shaped rows: three user/assistant turns whose text fills about `seq` tokens."""
    rng = random.Random(seed)
    per_answer = max(8, int(seq * 0.75 / 3))  # words ~ tokens for these words; three answers per row
    rows = []
    for i in range(n):
        messages = []
        for _turn in range(3):
            messages.append({"role": "user", "content": " ".join(rng.choices(WORDS, k=20)) + "?"})
            messages.append({"role": "assistant", "content": " ".join(rng.choices(WORDS, k=per_answer)) + "."})
        rows.append({"prompt": messages[0]["content"], "prompt_id": f"{i:064x}", "messages": messages})
    return rows


def plan(a) -> dict:
    work = Path(a.work)
    model = cached_model()
    return {
        "model": model or str(work / "qwen3-1.7b-random"),
        "model_source": f"{HUB_ID} from the Hugging Face cache" if model else
                        "random weights, Qwen3-1.7B's config, Qwen3's real tokenizer (built first)",
        "data": str(work / "train.jsonl"),
        "harness": [sys.executable, "-m", "harness", "train", "--config", str(LAB_CONFIG),
                    "--set", f"model={model or work / 'qwen3-1.7b-random'}", "--set", f"data.train={work / 'train.jsonl'}",
                    "--set", f"output_dir={work / 'harness-out'}", "--set", f"max_steps={a.steps}",
                    "--set", f"max_length={a.seq}", "--set", f"save_steps={a.steps}", "--set", f"eval_steps={a.steps}",
                    "--set", "logging_steps=1", "--set", "data.val_split=0.05", "--rescore", "none"],
        "trl": [sys.executable, str(Path(__file__).resolve()), "--side", "trl", "--steps", str(a.steps), "--seq", str(a.seq),
                "--work", str(work)],
        "rescore": [sys.executable, "-m", "harness", "run", "--suite", "lab1", "--ckpt", str(work / "harness-out" / "final"),
                    "--runs-dir", str(work / "runs")],
    }


def build_random_model(folder: Path) -> None:
    import torch
    from qwen3_tokenizer import QWEN3_1_7B, build_model

    torch.set_default_dtype(torch.bfloat16)  # 1.7B parameters: save them in bf16, as the hub's are
    try:
        build_model(folder, "first_release", QWEN3_1_7B)
    finally:
        torch.set_default_dtype(torch.float32)


def peak_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30


def side_harness(a) -> dict:
    """Step 3 in this process: the harness's own `train` command, then its measured speed."""
    from harness.cli import main

    argv = plan(a)["harness"][3:]
    t0 = time.time()
    code = main(argv)
    if code:
        raise SystemExit(code)
    summary = json.loads((Path(a.work) / "harness-out" / "training_summary.json").read_text())
    return {"tokens_per_second": summary["stats"]["tokens_per_second"], "peak_gib": peak_gib(), "wall_s": time.time() - t0}


def side_trl(a) -> dict:
    """Step 4: a plain TRL SFTTrainer script with the lab config's settings."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTConfig, SFTTrainer

    from trainers.qlora import _Throughput

    t0 = time.time()
    p = plan(a)
    tokenizer = AutoTokenizer.from_pretrained(p["model"])
    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(p["model"], quantization_config=bnb, dtype=torch.bfloat16, device_map={"": 0})
    rows = [json.loads(line) for line in Path(p["data"]).read_text().splitlines()]
    args = SFTConfig(output_dir=str(Path(a.work) / "trl-out"), max_steps=a.steps, per_device_train_batch_size=4,
                     gradient_accumulation_steps=4, learning_rate=2e-5, lr_scheduler_type="cosine", warmup_steps=0.1,
                     bf16=True, activation_checkpointing=True, activation_checkpointing_kwargs={"use_reentrant": False},
                     optim="paged_adamw_32bit", max_length=a.seq, packing=False, logging_steps=1, save_strategy="no",
                     include_num_input_tokens_seen="non_padding", report_to="none", seed=42, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=Dataset.from_list([{"messages": r["messages"]} for r in rows]),
                         peft_config=LoraConfig(r=32, lora_alpha=64, lora_dropout=0.05, bias="none",
                                                task_type="CAUSAL_LM", target_modules=LORA_TARGETS))
    speed = _Throughput()
    trainer.add_callback(speed)
    trainer.train()
    return {"tokens_per_second": speed.stats()["tokens_per_second"], "peak_gib": peak_gib(), "wall_s": time.time() - t0}


def run_side(side: str, a) -> dict:
    """One side in its own process (its own peak memory); its result is the last line it prints."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--steps", str(a.steps), "--seq", str(a.seq),
           "--work", str(a.work)]
    out = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True, env=os.environ | {"PYTHONPATH": str(REPO)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    p.add_argument("--steps", type=int, default=20, help="optimizer steps per side (default: 20)")
    p.add_argument("--seq", type=int, default=2048, help="max_length and about the length of every row (default: 2048)")
    p.add_argument("--work", default=None, help="working folder (default: a new temporary folder)")
    p.add_argument("--side", choices=["harness", "trl"], help=argparse.SUPPRESS)  # one side, in a child process
    a = p.parse_args(argv)
    a.work = a.work or tempfile.mkdtemp(prefix="gpu-check-")
    if a.side:
        result = side_harness(a) if a.side == "harness" else side_trl(a)
        print(json.dumps(result))
        return 0
    steps = plan(a)
    rows = 16 * a.steps + 32
    print(f"model: {steps['model']} ({steps['model_source']})")
    print(f"data: {rows} UltraChat-shaped rows of about {a.seq} tokens -> {steps['data']}")
    print("train (harness, the lab config):", " ".join(steps["harness"]))
    print("train (plain TRL SFTTrainer, same settings):", " ".join(steps["trl"]))
    print("rescore the adapter on lab1 (thinking off):", " ".join(steps["rescore"]))
    print(f"settings: QLoRA NF4 double quant, LoRA r=32 alpha=64 dropout 0.05 all-linear, batch 4 x 4, seq {a.seq}, "
          f"{a.steps} steps, bf16, activation checkpointing, paged_adamw_32bit")
    if a.dry_run:
        return 0
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); use --dry-run to see the plan",
              file=sys.stderr)
        return 2
    walls = {}
    t = time.time()
    Path(a.work).mkdir(parents=True, exist_ok=True)
    if not cached_model() and not (Path(steps["model"]) / "config.json").is_file():
        build_random_model(Path(steps["model"]))
    Path(steps["data"]).write_text("".join(json.dumps(r) + "\n" for r in conversations(rows, a.seq)))
    walls["prepare model and data"] = time.time() - t
    ours = run_side("harness", a)
    walls["train: harness (lab config)"] = ours["wall_s"]
    theirs = run_side("trl", a)
    walls["train: plain TRL script"] = theirs["wall_s"]
    t = time.time()
    subprocess.run(steps["rescore"], cwd=REPO, check=True, env=os.environ | {"PYTHONPATH": str(REPO)})
    walls["rescore on lab1"] = time.time() - t
    print(f"\ndevice: {torch.cuda.get_device_name(0)}; model: {steps['model_source']}; seq {a.seq}; {a.steps} steps")
    for name, r in (("harness train (lab config)", ours), ("plain TRL SFTTrainer", theirs)):
        print(f"{name:28s} {r['tokens_per_second']:9.1f} tok/s  peak {r['peak_gib']:6.2f} GiB")
    print(f"ratio (harness / TRL): throughput {ours['tokens_per_second'] / theirs['tokens_per_second']:.2f}x, "
          f"peak memory {ours['peak_gib'] / theirs['peak_gib']:.2f}x")
    for name, seconds in walls.items():
        print(f"wall: {name:28s} {seconds:8.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
