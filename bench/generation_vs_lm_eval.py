"""Benchmark: lab1 generation through our hf backend vs lm-evaluation-harness's hf backend.

Extra install step (lm-eval is not a dependency of this package):

    .venv/bin/pip install lm-eval
    .venv/bin/python bench/generation_vs_lm_eval.py [--ckpt smollm2-135m-instruct] [--tasks compare10 format safety]
                                                    [--batch-size 8] [--threads 2]

Both sides get the same model object, the chat template applied to each prompt (the tokenizer's
`apply_chat_template` with the generation prompt, as lab1 runs), greedy decoding and each task's
max_new_tokens from suites/lab1.yaml. Ours is `HFBackend.generate` in the runner's batches;
lm-eval's is `HFLM.generate_until` with `until` = the end-of-turn token text and the same
max_gen_toks. The two alternate `--repeat` times (ours, lm-eval, ours, ...) and the fastest of
each counts, so neither gains from running second on a warm machine. It prints both wall times
(model load excluded), the ratio, the generated token counts, how many answers are
token-identical (for the rest, where they part), and each side's decode steps: a batch runs
until its longest answer ends, so the sum over batches of the longest answer's tokens times the
batch's rows is the work each batching did, whatever the machine's load.
"""

from __future__ import annotations

import argparse
import time

import torch

from harness.models.backends import make_backend
from harness.models.backends.hf import HFBackend
from harness.models.checkpoint import resolve_checkpoint
from harness.generate import pending_work
from harness.suite import load_suite, sample_messages


def ours(backend: HFBackend, suite, batch_size: int) -> tuple[dict[str, str], float]:
    batches = pending_work(suite, ["ckpt"], [], batch_size)
    out = {}
    t0 = time.perf_counter()
    for b in batches:
        gens = backend.generate([sample_messages(s) for s in b.samples], b.task.generation)
        out.update({f"{b.task.name}/{s['id']}": g.raw for s, g in zip(b.samples, gens)})
    return out, time.perf_counter() - t0


def decode_work(batches: list[list[str]], lengths: dict[str, int]) -> int:
    """Token positions decoded: each batch runs its rows until its longest answer ends."""
    return sum(len(b) * max(lengths[k] for k in b) for b in batches)


def our_batches(suite, batch_size: int) -> list[list[str]]:
    return [[f"{b.task.name}/{s['id']}" for s in b.samples] for b in pending_work(suite, ["ckpt"], [], batch_size)]


def their_batches(backend: HFBackend, suite, batch_size: int) -> list[list[str]]:
    """lm-eval's batching, as its Collator does it: requests grouped by generation settings, each
    group sorted by prompt token count, longest first, then cut into batches."""
    out = []
    for task in suite.tasks.values():
        keyed = sorted((-len(backend.encode_chat(sample_messages(s), task.generation)), f"{task.name}/{s['id']}")
                       for s in task.samples)
        keys = [k for _, k in keyed]
        out += [keys[i : i + batch_size] for i in range(0, len(keys), batch_size)]
    return out


def theirs(lm, backend: HFBackend, suite) -> tuple[dict[str, str], float]:
    from lm_eval.api.instance import Instance

    requests, keys = [], []
    for task in suite.tasks.values():
        for s in task.samples:
            context = backend.render_prompt(sample_messages(s), task.generation)
            gen_kwargs = {"until": ["<|im_end|>"], "max_gen_toks": task.generation.max_new_tokens, "do_sample": False}
            requests.append(Instance(request_type="generate_until", doc={}, arguments=(context, gen_kwargs), idx=len(keys)))
            keys.append(f"{task.name}/{s['id']}")
    t0 = time.perf_counter()
    answers = lm.generate_until(requests, disable_tqdm=True)
    return dict(zip(keys, answers)), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="smollm2-135m-instruct")
    parser.add_argument("--tasks", nargs="+", default=["compare10", "format", "safety"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of each side; the fastest counts")
    args = parser.parse_args()
    try:
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        raise SystemExit("lm-eval is not installed: run `.venv/bin/pip install lm-eval` first (see the docstring)")
    torch.set_num_threads(args.threads)

    backend = make_backend(resolve_checkpoint(args.ckpt), device=torch.device("cpu"))
    backend.model.float()
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=args.batch_size, device="cpu")
    suite = load_suite("lab1", tasks=args.tasks)
    n = sum(len(t.samples) for t in suite.tasks.values())
    print(f"{n} prompts ({', '.join(f'{t.name}: max_new_tokens {t.generation.max_new_tokens}' for t in suite.tasks.values())}), "
          f"{args.ckpt}, float32, {args.threads} thread(s), batch {args.batch_size}, greedy")

    times_mine, times_other = [], []
    for i in range(args.repeat):
        mine, t = ours(backend, suite, args.batch_size)
        times_mine.append(t)
        other, t = theirs(lm, backend, suite)
        times_other.append(t)
        print(f"  run {i + 1}: ours {times_mine[-1]:.1f} s, lm-eval {times_other[-1]:.1f} s")
    t_mine, t_other = min(times_mine), min(times_other)
    tok = backend.tokenizer
    ids = {k: (tok(mine[k], add_special_tokens=False)["input_ids"], tok(other[k], add_special_tokens=False)["input_ids"]) for k in mine}
    same = [k for k, (a, b) in ids.items() if a == b]
    print(f"ours {t_mine:.1f} s ({sum(len(a) for a, _ in ids.values())} tokens), lm-eval {t_other:.1f} s "
          f"({sum(len(b) for _, b in ids.values())} tokens), time ours/lm-eval {t_mine / t_other:.2f}x; "
          f"token-identical answers {len(same)}/{len(ids)}")
    # An answer the token limit cut inside a multi-byte character: ours drops the half character
    # (U+FFFD) on purpose, lm-eval keeps it. Equal text otherwise is the same generation.
    cut = [k for k in ids if k not in same and other[k].rstrip("\ufffd") == mine[k] and other[k] != mine[k]]
    lengths = {k: max(len(a), len(b)) for k, (a, b) in ids.items()}
    print(f"decode work (rows x longest answer, summed over batches): ours {decode_work(our_batches(suite, args.batch_size), lengths)}, "
          f"lm-eval {decode_work(their_batches(backend, suite, args.batch_size), lengths)} token positions")
    print(f"of the rest, {len(cut)} differ only by the half character ours drops at the token limit; "
          f"identical generations {len(same) + len(cut)}/{len(ids)}")
    for k, (a, b) in ids.items():
        if a != b and k not in cut:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            print(f"  {k}: differ from token {at} (ours {len(a)} tokens, lm-eval {len(b)}): "
                  f"ours {tok.decode(a[at:at + 8])!r} vs lm-eval {tok.decode(b[at:at + 8])!r}")


if __name__ == "__main__":
    main()
