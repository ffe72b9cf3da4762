"""Benchmark: QLoRA training throughput and peak memory, this trainer vs the lab's reference script.

A randomly initialised model with the Qwen3-1.7B architecture (no weights needed) and a tokenizer
trained here on synthetic text; QLoRA r=32 / alpha 64 on all linear layers, sequences of
`--seq` tokens, effective batch 16. Both sides train the same model on the same data in the same
process, one after the other:

(a) `trainers.qlora` (our trainer: assistant-only loss from the chat template, no rescoring here)
(b) the lab's step-3 SFTTrainer script settings (docs/lab1.md): text field rendered with apply_chat_template, loss
    on every token, bf16 where supported, gradient checkpointing, batch 4 x accumulation 4.

It prints tokens/s (from TRL's token counter) and peak GPU memory for each, and the ratios.
Without a GPU it runs on the CPU (peak memory then is the process's max RSS, shared by both);
use --small there:

    python bench/train_throughput.py            # GPU: the real Qwen3-1.7B shape, seq 2048
    python bench/train_throughput.py --small    # CPU: a tiny shape, just to show it works
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QWEN3_1_7B = dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
                  num_key_value_heads=8, head_dim=128, vocab_size=151936, max_position_embeddings=40960,
                  rope_theta=1000000.0, tie_word_embeddings=True)
SMALL = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, head_dim=32, vocab_size=2048, max_position_embeddings=4096, tie_word_embeddings=True)
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WORDS = ("model data train loss token batch learning rate adapter rank alpha quantization memory gradient "
         "step epoch schedule warmup cosine evaluation prompt answer format json table safety refusal").split()


def synthetic_conversations(n: int, words_per_answer: int, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)
    return [[{"role": "user", "content": " ".join(rng.choices(WORDS, k=30))},
             {"role": "assistant", "content": " ".join(rng.choices(WORDS, k=words_per_answer))}] for _ in range(n)]


def build_model_dir(root: Path, shape: dict, convs) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = min(shape["vocab_size"], 4000)
    tok.train_from_iterator([m["content"] for c in convs for m in c],
                            trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    fast.save_pretrained(root)
    config = Qwen3Config(**shape, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id)
    torch.manual_seed(0)
    with torch.device("cpu"):
        Qwen3ForCausalLM(config).to(torch.bfloat16).save_pretrained(root)
    return root


def peak_memory_gb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def tokens_per_second(log_history: list[dict]) -> tuple[float, float, float]:
    tokens = max((e.get("num_tokens", 0) for e in log_history), default=0)
    runtime = next((e["train_runtime"] for e in log_history if "train_runtime" in e), float("nan"))
    return float(tokens), float(runtime), float(tokens) / runtime


def run_ours(model_dir: Path, data: Path, out: Path, a) -> dict:
    from rich.console import Console

    from trainers.config import TrainConfig
    from trainers.qlora import QLoRATrainer

    class NoHooks:
        def on_start(self, model, tokenizer): ...
        def on_checkpoint(self, step, path, model, tokenizer): ...

    c = TrainConfig(model=str(model_dir), output_dir=str(out))
    c.data.train, c.data.validation = str(data), str(data)
    c.lora.r, c.lora.alpha = 32, 64
    c.per_device_batch_size, c.gradient_accumulation_steps = a.batch, 16 // a.batch
    c.max_steps, c.max_length, c.logging_steps = a.steps, a.seq, 1
    c.save_steps = c.eval_steps = 10**6
    c.rescore.suite = None
    reset_peak()
    result = QLoRATrainer().train(c, NoHooks(), Console(quiet=True))
    return {"peak_gb": peak_memory_gb(), "log": result.log_history}


def run_reference(model_dir: Path, convs, out: Path, a) -> dict:
    """The lab's steps 1 and 3 (docs/lab1.md), with max_seq_length -> max_length (TRL 1.x) and the step count capped."""
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTConfig, SFTTrainer

    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float32)
    reset_peak()
    model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=bnb, device_map={"": 0} if cuda else None,
                                                 dtype=torch.bfloat16 if bf16 else torch.float32)
    model = get_peft_model(model, LoraConfig(r=32, lora_alpha=64, lora_dropout=0.05, bias="none", task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    texts = Dataset.from_list([{"text": tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=False)} for c in convs])
    args = SFTConfig(output_dir=str(out), max_steps=a.steps, per_device_train_batch_size=a.batch,
                     gradient_accumulation_steps=16 // a.batch, learning_rate=2e-5, lr_scheduler_type="cosine",
                     warmup_steps=0.1, bf16=bf16, gradient_checkpointing=True,
                     gradient_checkpointing_kwargs={"use_reentrant": False}, max_length=a.seq,
                     dataset_text_field="text", packing=False, logging_steps=1, save_strategy="no",
                     report_to="none", seed=42, use_cpu=not cuda, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=texts, processing_class=tokenizer)
    trainer.train()
    return {"peak_gb": peak_memory_gb(), "log": list(trainer.state.log_history)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="tiny shape, short sequences: for a CPU")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--seq", type=int, default=None)
    p.add_argument("--batch", type=int, default=4, help="per-device batch (accumulation makes 16)")
    a = p.parse_args()
    shape = SMALL if a.small else QWEN3_1_7B
    a.seq = a.seq or (256 if a.small else 2048)
    a.steps = a.steps or (3 if a.small else 10)
    # answers long enough that every example fills about --seq tokens
    convs = synthetic_conversations(16 * a.steps + 16, words_per_answer=int(a.seq * 0.75))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = build_model_dir(tmp / "model", shape, convs)
        data = tmp / "train.jsonl"
        data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in convs))
        t0 = time.time()
        ours = run_ours(model_dir, data, tmp / "ours", a)
        reference = run_reference(model_dir, convs, tmp / "reference", a)
    rows = []
    for name, r in (("this trainer (trainers.qlora)", ours), ("the lab's SFTTrainer script", reference)):
        tokens, runtime, tps = tokens_per_second(r["log"])
        rows.append((name, tokens, runtime, tps, r["peak_gb"]))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (peak = process max RSS, shared)"
    print(f"device: {device}; shape: {'small' if a.small else 'Qwen3-1.7B'}; seq {a.seq}; effective batch 16 "
          f"({a.batch} x {16 // a.batch}); {a.steps} steps; QLoRA r=32 alpha=64 NF4; wall {time.time() - t0:.0f} s")
    for name, tokens, runtime, tps, peak in rows:
        print(f"{name:32s} {tokens:10.0f} tokens  {runtime:8.1f} s  {tps:9.1f} tok/s  peak {peak:6.2f} GiB")
    (_, _, _, tps_a, peak_a), (_, _, _, tps_b, peak_b) = rows
    print(f"ratio (this / lab script): throughput {tps_a / tps_b:.2f}x, peak memory {peak_a / peak_b:.2f}x")


if __name__ == "__main__":
    main()
