"""Benchmark: capability tasks through the harness vs lm-evaluation-harness's own `hf` model.

    .venv/bin/python bench/capability_vs_lm_eval.py [--ckpt smollm2-135m-instruct] [--suite capabilities_local]
                                                    [--batch-size 8] [--threads 2] [--repeat 2]

The lm-eval tasks of the suite's capability task (default: the two local tasks in
suites/lm_eval_tasks, no hub needed) run twice on the same model object, float32 on the CPU,
with the same lm-eval `simple_evaluate` (same documents, prompts, few-shot examples, filters and
metrics): once with lm-eval's `HFLM` (its hf model), once with the harness's `BackendLM` over
`HFBackend` (harness/capability.py: the path `harness run` takes). The two alternate `--repeat`
times and the fastest of each counts (model load excluded). It prints, per lm-eval task and
metric, lm-eval's aggregate and ours (the mean of the per-document values the harness records),
the largest difference of a per-choice log-likelihood, how many per-document verdicts and
generated answers are identical, and both wall times with their ratio.
"""

from __future__ import annotations

import argparse
import time

import torch

from harness.capability import run_entry, task_manager
from harness.capability_spec import LmEvalEntry
from harness.models.backends.hf import HFBackend
from harness.models.checkpoint import resolve_checkpoint
from harness.suite import load_suite


def theirs(lm, entry: LmEvalEntry, manager) -> tuple[dict, float]:
    """lm-eval's run: {doc key: logged sample} and lm-eval's own aggregates, and its time."""
    from lm_eval import simple_evaluate

    t0 = time.perf_counter()
    out = simple_evaluate(model=lm, tasks=[entry.name], num_fewshot=entry.num_fewshot, limit=entry.limit,
                          task_manager=manager, log_samples=True, bootstrap_iters=0)
    seconds = time.perf_counter() - t0
    chosen = entry.filter or "none"
    docs = {f"{sub}/{d['doc_id']}": d for sub, ds in out["samples"].items() for d in ds if d["filter"] == chosen}
    return {"docs": docs, "results": out["results"], "filter": chosen}, seconds


def ours(backend: HFBackend, entry: LmEvalEntry, include, batch_size: int) -> tuple[dict, float]:
    t0 = time.perf_counter()
    records = run_entry(backend, entry, role="ckpt", model="bench", task_name="capability", include=include,
                        batch_size=batch_size)
    return {r.id: r for r in records}, time.perf_counter() - t0


def loglikelihoods(resps) -> list[float]:
    """The per-request log-likelihoods of a logged document (multiple choice: one per choice)."""
    out = []
    for r in resps or []:
        first = r[0] if isinstance(r, list) and r else r
        if isinstance(first, (list, tuple)) and first and isinstance(first[0], (int, float)):
            out.append(float(first[0]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="smollm2-135m-instruct")
    parser.add_argument("--suite", default="capabilities_local")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of each side; the fastest counts")
    args = parser.parse_args()
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(args.threads)
    backend = HFBackend(resolve_checkpoint(args.ckpt), device=torch.device("cpu"))
    backend.model.float()
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=args.batch_size, device="cpu")
    task = next(t for t in load_suite(args.suite).tasks.values() if t.kind == "capability")
    entries = [LmEvalEntry.from_sample(s) for s in task.samples]
    print(f"{args.ckpt}, float32, {args.threads} thread(s), batch {args.batch_size}; lm-eval tasks: "
          f"{', '.join(e.name for e in entries)}")
    total_ours = total_theirs = 0.0
    for entry in entries:
        manager = task_manager(task.include, [entry.name])
        t_ours, t_theirs = [], []
        for _ in range(args.repeat):
            mine, t = ours(backend, entry, task.include, args.batch_size)
            t_ours.append(t)
            other, t = theirs(lm, entry, manager)
            t_theirs.append(t)
        total_ours += min(t_ours)
        total_theirs += min(t_theirs)
        docs = other["docs"]
        assert set(docs) == set(mine), "the two sides ran different documents"
        print(f"\n{entry.name}: {len(docs)} documents; ours {min(t_ours):.2f} s, lm-eval {min(t_theirs):.2f} s, "
              f"ours/lm-eval {min(t_ours) / min(t_theirs):.2f}x")
        for m in entry.metrics:
            agg = next(v for sub in other["results"].values() for k, v in sub.items() if k == f"{m.name},{other['filter']}")
            values = [mine[k].lm_eval["metrics"][m.name] for k in docs]
            mean = sum(map(float, values)) / len(values)
            same = sum(float(mine[k].lm_eval["metrics"][m.name]) == float(docs[k][m.name]) for k in docs)
            print(f"  {m.name}: lm-eval {agg:.6f}, ours {mean:.6f}, diff {mean - agg:+.2e}; "
                  f"per-document verdicts identical {same}/{len(docs)}")
        diffs = [abs(a - b) for k in docs for a, b in zip(loglikelihoods(mine[k].lm_eval["resps"]), loglikelihoods(docs[k]["resps"]))]
        if diffs:
            print(f"  log-likelihoods: {len(diffs)} compared, largest difference {max(diffs):.2e} nats")
        answers = [(mine[k].raw, docs[k]["resps"][0][0]) for k in docs if mine[k].raw is not None]
        if answers:
            print(f"  generated answers identical {sum(a == b for a, b in answers)}/{len(answers)}")
    print(f"\ntotal: ours {total_ours:.2f} s, lm-eval {total_theirs:.2f} s, ours/lm-eval {total_ours / total_theirs:.2f}x "
          f"(fastest of {args.repeat} alternating runs each, model load excluded)")


if __name__ == "__main__":
    main()
