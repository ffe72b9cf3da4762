"""Benchmark: the lab's 10-prompt generation, batched `hf` backend vs the lab's reference loop.

The baseline is the lab's `generate_response` (docs/lab1.md step 1): one prompt at a time, `model.generate` on a
single sequence. Both sides use the same model object, the same greedy settings and the same
max_new_tokens, and the script prints how many tokens each side generated so the times compare
like with like.

    python bench/generation.py [--ckpt smollm2-135m-instruct] [--max-new-tokens 128] [--batch-size 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from harness.models.backends import make_backend
from harness.models.checkpoint import resolve_checkpoint
from harness.models.generation_settings import GenerationSettings
from harness.suite import load_suite, sample_messages


def generate_response(model, tokenizer, prompt, max_new_tokens=256):
    """The lab's reference loop (step 1), with greedy decoding instead of sampling (same settings as the harness run)."""
    messages = [{"role": "user", "content": prompt}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt").to(model.device)
    with torch.no_grad():
        outputs = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
    new = outputs[0][inputs.input_ids.shape[1]:]
    return tokenizer.decode(new, skip_special_tokens=True), len(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="smollm2-135m-instruct")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=10)
    args = parser.parse_args()

    backend = make_backend(resolve_checkpoint(args.ckpt))
    prompts = [s["prompt"] for s in load_suite("lab1", tasks=["compare10"]).tasks["compare10"].samples]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    backend.generate([sample_messages({"prompt": prompts[0]})], GenerationSettings(max_new_tokens=4))  # warm-up

    t0 = time.perf_counter()
    baseline = [generate_response(backend.model, backend.tokenizer, p, args.max_new_tokens) for p in prompts]
    t_loop = time.perf_counter() - t0
    loop_tokens = sum(n for _, n in baseline)

    t0 = time.perf_counter()
    batched = []
    for i in range(0, len(prompts), args.batch_size):
        batched += backend.generate([sample_messages({"prompt": p}) for p in prompts[i : i + args.batch_size]], settings)
    t_batched = time.perf_counter() - t0
    batched_tokens = sum(g.completion_tokens for g in batched)
    same = sum(a.strip() == b.raw.strip() for (a, _), b in zip(baseline, batched))

    print(f"model: {args.ckpt}  device: {backend.device}  threads: {torch.get_num_threads()}  "
          f"prompts: {len(prompts)}  max_new_tokens: {args.max_new_tokens}  greedy")
    print(f"lab loop (one prompt at a time):  {t_loop:7.2f} s  {loop_tokens:5d} tokens  {loop_tokens / t_loop:7.1f} tok/s")
    print(f"hf backend (batch {args.batch_size:>2}):          {t_batched:7.2f} s  {batched_tokens:5d} tokens  {batched_tokens / t_batched:7.1f} tok/s")
    print(f"speed-up (loop time / batched time): {t_loop / t_batched:.2f}x; identical answers: {same}/{len(prompts)}")


if __name__ == "__main__":
    main()
