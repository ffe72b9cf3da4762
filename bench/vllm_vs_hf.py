"""Benchmark: lab1 generation through the hf backend vs the vllm backend, base model and adapter.

Needs the vLLM environment (`bash scripts/setup.sh --with-vllm`, or --vllm-python PATH):

    .venv/bin/python bench/vllm_vs_hf.py [--ckpt smollm2-135m-instruct] [--adapter DIR] [--limit N]
                                         [--batch-size 8] [--rounds 1] [--merged]

Both backends answer the same lab1 prompts (greedy, each task's max_new_tokens, the runner's
batches: `pending_work`, `--batch-size` prompts per batch) for the base model and for the adapter
(`--adapter`, else a LoRA adapter with random B matrices made here, rank 8, so it changes answers);
hf takes `--batch-size` prompts at a time (lab1's 8), vllm `--vllm-batch-size` (32) requests in flight.
hf: one model in this process, the adapter switched off for the base (float32 on CPU). vllm: one
engine, the base model and the adapter as a LoRA module (LoRA runs eager on vLLM's CPU build).
With `--merged`, a third side serves the adapter merged into the base (`harness merge`) on a
compiled engine without LoRA. Only one side is up at a time (an idle vLLM CPU server keeps
polling and slows whatever else runs on a small machine): each round runs hf, then starts vllm,
times it and stops it, then the merged engine; the fastest round of each side counts. Engine
start-up is printed and not counted. It prints wall
time, completion tokens/s, the ratio vllm/hf and how many answers are token-identical (for the
rest, where they part), like bench/generation_vs_lm_eval.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from harness.generate import pending_work
from harness.models.backends import make_backend
from harness.models.checkpoint import resolve_checkpoint
from harness.suite import apply_limit, load_suite, sample_messages

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from random_adapter import write_random_adapter  # noqa: E402


def answer_all(backend, suite, role: str, batch_size: int) -> tuple[dict[str, str], int, float]:
    """(answers by task/id, completion tokens, wall seconds) of every generate task of `suite`."""
    batches = [b for b in pending_work(suite, [role], [], batch_size) if b.task.kind == "generate"]
    out, tokens = {}, 0
    t0 = time.perf_counter()
    for b in batches:
        gens = backend.generate([sample_messages(s) for s in b.samples], b.task.generation, role=role)
        out.update({f"{b.task.name}/{s['id']}": g.raw for s, g in zip(b.samples, gens)})
        tokens += sum(g.completion_tokens for g in gens)
    return out, tokens, time.perf_counter() - t0


def random_adapter(base: str, out: Path, rank: int = 8) -> str:
    return write_random_adapter(base, out, rank=rank, alpha=2 * rank, targets=["q_proj", "v_proj"], std=0.02, seed=1)


def compare(tok, a: dict[str, str], b: dict[str, str], names: tuple[str, str]) -> str:
    ids = {k: (tok(a[k], add_special_tokens=False)["input_ids"], tok(b[k], add_special_tokens=False)["input_ids"]) for k in a}
    same = [k for k, (x, y) in ids.items() if x == y]
    lines = [f"token-identical answers {len(same)}/{len(ids)}"]
    for k, (x, y) in ids.items():
        if x != y:
            at = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            lines.append(f"    {k}: differ from token {at} ({names[0]} {len(x)} tokens, {names[1]} {len(y)}): "
                         f"{tok.decode(x[at:at + 6])!r} vs {tok.decode(y[at:at + 6])!r}")
    return "\n".join(lines[:1] + lines[1:9] + ([f"    ... {len(lines) - 9} more"] if len(lines) > 9 else []))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="smollm2-135m-instruct", help="the base model")
    p.add_argument("--adapter", help="a LoRA adapter of --ckpt (default: a random rank-8 one made here)")
    p.add_argument("--limit", type=int, help="at most N prompts per task (default: all of lab1)")
    p.add_argument("--tasks", nargs="*", help="lab1 tasks (default: every generate task)")
    p.add_argument("--batch-size", type=int, default=8, help="prompts per batch for hf (lab1's default)")
    p.add_argument("--vllm-batch-size", type=int, default=32,
                   help="prompts per batch for vllm: requests in flight at once, batched by the engine")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--merged", action="store_true", help="also serve the adapter merged into the base, compiled, no LoRA")
    p.add_argument("--vllm", action="append", default=[], metavar="KEY=VALUE", help="vllm engine settings (e.g. enforce_eager=true)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    base = resolve_checkpoint(args.ckpt)
    tmp = Path(tempfile.mkdtemp(prefix="vllm-bench-"))
    adapter = args.adapter or random_adapter(base.model, tmp / "adapter")
    ckpt = resolve_checkpoint(adapter, base=base.model)
    suite = load_suite("lab1", tasks=args.tasks)
    for name in [n for n, t in suite.tasks.items() if t.kind != "generate"]:
        del suite.tasks[name]
    if args.limit:
        apply_limit(suite, {"*": args.limit})
    n = sum(len(t.samples) for t in suite.tasks.values())
    settings = {"concurrency": args.vllm_batch_size, **dict(item.split("=", 1) for item in args.vllm)}
    print(f"{n} prompts ({', '.join(f'{t.name}: max_new_tokens {t.generation.max_new_tokens}' for t in suite.tasks.values())}); "
          f"{args.ckpt} + adapter {adapter}; batch hf {args.batch_size}, vllm {args.vllm_batch_size}; greedy; {args.threads} torch threads; {args.rounds} round(s)")

    # One engine alive at a time: an idle vLLM CPU server keeps polling (its workers use a share of a
    # core), and on 2 cores two idle servers made the hf side 1.3x slower (507 s vs 395 s for the base). So each side is
    # started, timed on base and adapter, and stopped before the next; start-up is not timed.
    t0 = time.perf_counter()
    hf = make_backend(ckpt, device=torch.device("cpu"))
    print(f"start-up: hf {time.perf_counter() - t0:.1f} s")
    merged_folder = None
    if args.merged:
        from harness.app.merge import merge_adapter

        merged_folder = tmp / "merged"
        merge_adapter(adapter, str(merged_folder), base=base.model, dtype="fp32")
    runs: dict[tuple[str, str], list] = {}  # (role, side) -> [(wall, tokens, answers)] per round
    for r in range(args.rounds):
        timed(runs, r, "hf", hf, ("base", "ckpt"), suite, args.batch_size)
        hf.close()
        engine = start_engine(replace(ckpt, backend="vllm"), settings, "vllm (base + adapter as LoRA)")
        try:
            timed(runs, r, "vllm", engine, ("base", "ckpt"), suite, args.vllm_batch_size)
        finally:
            engine.close()
        if merged_folder is not None:
            compiled = {k: v for k, v in settings.items() if k != "enforce_eager"}
            engine = start_engine(replace(resolve_checkpoint(str(merged_folder)), backend="vllm"), compiled,
                                  "vllm merged adapter (compiled, no LoRA)")
            try:
                timed(runs, r, "vllm-merged", engine, ("ckpt",), suite, args.vllm_batch_size)
            finally:
                engine.close()
        if r + 1 < args.rounds:
            hf = make_backend(ckpt, device=torch.device("cpu"))

    tok = hf.tokenizer
    print()
    for role in ("base", "ckpt"):
        hf_wall, hf_tokens, hf_answers = min(runs[(role, "hf")], key=lambda x: x[0])
        for side in ("vllm", "vllm-merged"):
            if (role, side) not in runs:
                continue
            wall, tokens, answers = min(runs[(role, side)], key=lambda x: x[0])
            print(f"{'adapter' if role == 'ckpt' else 'base':>7}: hf {hf_wall:.1f} s ({hf_tokens / hf_wall:.1f} tokens/s) vs "
                  f"{side} {wall:.1f} s ({tokens / wall:.1f} tokens/s): speed {side}/hf {hf_wall / wall:.2f}x; "
                  + compare(tok, hf_answers, answers, ("hf", side)))


def start_engine(ckpt, settings: dict, what: str):
    t0 = time.perf_counter()
    engine = make_backend(ckpt, settings=settings)
    print(f"start-up: {what} {time.perf_counter() - t0:.1f} s ({engine.describe()['engine']})", flush=True)
    return engine


def timed(runs: dict, r: int, side: str, backend, roles, suite, batch_size: int) -> None:
    for role in roles:
        answers, tokens, wall = answer_all(backend, suite, role, batch_size)
        runs.setdefault((role, side), []).append((wall, tokens, answers))
        print(f"  {role:>4} round {r + 1} {side:>11}: {wall:6.1f} s, {tokens} tokens, {tokens / wall:6.1f} tokens/s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
