"""Example: lm-evaluation-harness evaluates a model served by `harness serve`.

lm-eval's `local-completions` model talks to `/v1/completions`: multiple-choice tasks ask for the
log-probabilities of each continuation (token-id prompts, `echo`, `logprobs`, `max_tokens` 1),
generation tasks for greedy text with `stop` sequences. It finds the server's tokenizer through
the vLLM-style `/tokenizer_info` and `/tokenize` routes, or takes a local one (`tokenizer=PATH`),
which it needs to render a chat template (`--apply_chat_template`, used here: the prompts are
questions to an instruct model). This script serves a checkpoint (the bundled model, or an
adapter directory: then the adapter on its base) in this process on 127.0.0.1, writes two small
offline tasks (no hub needed), runs lm-eval against the server, and then, as the reference, the same tasks with lm-eval's own in-process `hf` model (with `peft=` for
an adapter). The two should agree: same weights, greedy, float32.

lm-eval is not a dependency of sft-harness; install it into the venv first:

    .venv/bin/pip install "lm-eval[api]"
    python bench/lm_eval_served.py [--ckpt smollm2-135m-instruct | ADAPTER_DIR] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# (question, choices, index of the right one): short general-knowledge items a small model can try
MC = [
    ("What is the capital of France?", ["Paris", "Berlin", "Madrid", "Rome"], 0),
    ("What is the capital of Japan?", ["Seoul", "Tokyo", "Beijing", "Bangkok"], 1),
    ("At what temperature does water freeze?", ["100 degrees Celsius", "50 degrees Celsius", "0 degrees Celsius", "10 degrees Celsius"], 2),
    ("What is the largest planet in the solar system?", ["Mars", "Venus", "Mercury", "Jupiter"], 3),
    ("How many days does a week have?", ["Seven", "Five", "Ten", "Three"], 0),
    ("What is the opposite of hot?", ["Warm", "Cold", "Red", "Fast"], 1),
    ("What is two plus two?", ["Three", "Five", "Four", "Six"], 2),
    ("What color is the clear daytime sky?", ["Green", "Purple", "Orange", "Blue"], 3),
    ("What do bees make?", ["Honey", "Milk", "Silk", "Wool"], 0),
    ("What is the chemical formula of water?", ["O2", "H2O", "CO2", "NaCl"], 1),
    ("Which animal is called the king of the jungle?", ["The mouse", "The rabbit", "The lion", "The sheep"], 2),
    ("What is Python?", ["A meal", "A song", "A river", "A programming language"], 3),
    ("Where does the sun rise?", ["In the east", "In the west", "In the north", "In the south"], 0),
    ("How many sides does a triangle have?", ["Four", "Three", "Five", "Six"], 1),
    ("What is ice?", ["Water as a gas", "Water as a liquid", "Water as a solid", "Water as plasma"], 2),
    ("What is the first month of the year?", ["March", "December", "June", "January"], 3),
]
GEN = [
    ("What is the capital of France? Answer with one word.", "Paris"),
    ("What is the capital of Italy? Answer with one word.", "Rome"),
    ("What is two plus three? Answer with a number only.", "5"),
    ("What color is grass? Answer with one word.", "Green"),
    ("How many legs does a spider have? Answer with a number only.", "8"),
    ("What is the opposite of up? Answer with one word.", "Down"),
    ("What is the largest ocean on Earth? Answer with one word.", "Pacific"),
    ("What is the capital of Germany? Answer with one word.", "Berlin"),
]

MC_TASK = """task: served_mc
dataset_path: json
dataset_kwargs:
  data_files: {{test: {data}}}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
target_delimiter: ""
metric_list:
  - metric: acc
  - metric: acc_norm
"""

GEN_TASK = """task: served_gen
dataset_path: json
dataset_kwargs:
  data_files: {{test: {data}}}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 16
  do_sample: false
  temperature: 0
filter_list:
  - name: last_word  # "The capital of France is Paris." -> Paris
    filter:
      - function: regex
        regex_pattern: "([A-Za-z0-9]+)"
        group_select: -1
      - function: take_first
metric_list:
  - metric: exact_match
    ignore_case: true
    ignore_punctuation: true
"""


def write_tasks(folder: Path) -> None:
    mc = folder / "mc.jsonl"
    mc.write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n" for q, c, a in MC))
    gen = folder / "gen.jsonl"
    gen.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in GEN))
    (folder / "served_mc.yaml").write_text(MC_TASK.format(data=mc))
    (folder / "served_gen.yaml").write_text(GEN_TASK.format(data=gen))


def evaluate(model: str, model_args: dict, tasks_dir: Path) -> dict:
    import lm_eval
    from lm_eval.tasks import TaskManager

    results = lm_eval.simple_evaluate(model=model, model_args=model_args, tasks=["served_mc", "served_gen"],
                                      task_manager=TaskManager(include_path=str(tasks_dir)), log_samples=True,
                                      apply_chat_template=True,  # an instruct model answers questions in its chat format
                                      bootstrap_iters=0, random_seed=0, numpy_random_seed=0, torch_random_seed=0)
    return results


def metric_rows(results: dict) -> dict[str, float]:
    out = {}
    for task, metrics in results["results"].items():
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and "stderr" not in key and key != "alias":
                out[f"{task} {key}"] = float(value)
    return out


def per_sample(results: dict, task: str) -> list:
    """The raw responses of every request of `task`, in document order: (loglikelihood, is_greedy)
    per choice for multiple choice, the generated text for generation."""
    out = []
    for sample in sorted(results["samples"][task], key=lambda s: s["doc_id"]):
        for resp in sample["resps"]:
            out.append(tuple(resp[0]) if isinstance(resp[0], (list, tuple)) else resp[0])
    return out


def tokenizer_source(ckpt) -> str:
    """Where the served tokenizer comes from: an adapter that saved one, else the model."""
    if ckpt.adapter and (Path(ckpt.adapter) / "tokenizer_config.json").is_file():
        return ckpt.adapter
    return ckpt.model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="smollm2-135m-instruct", help="the alias, a model dir or an adapter dir")
    parser.add_argument("--concurrent", type=int, default=4, help="lm-eval requests in flight (the server batches them)")
    parser.add_argument("--no-reference", action="store_true", help="skip lm-eval's in-process hf model")
    args = parser.parse_args()
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        sys.exit("lm-eval is not installed: .venv/bin/pip install \"lm-eval[api]\"")
    from lm_eval.utils import make_table

    from harness.models.backends import make_backend
    from harness.models.checkpoint import resolve_checkpoint
    from harness.serve.app import build_app, serve_in_background

    ckpt = resolve_checkpoint(args.ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        tasks_dir = Path(tmp)
        write_tasks(tasks_dir)
        app = build_app(make_backend(ckpt), "served", max_batch_size=8)
        with serve_in_background(app) as url:
            t0 = time.perf_counter()
            # lm-eval renders the chat template only with a local tokenizer (its remote-tokenizer
            # path, /tokenizer_info + /tokenize, works for runs without --apply_chat_template)
            served = evaluate("local-completions", {"base_url": f"{url}/completions", "model": "served",
                                                     "num_concurrent": args.concurrent, "max_retries": 1,
                                                     "tokenized_requests": True, "tokenizer_backend": "huggingface",
                                                     "tokenizer": tokenizer_source(ckpt)}, tasks_dir)
            t_served = time.perf_counter() - t0
        print(f"== lm-eval local-completions -> harness serve ({args.ckpt}) at {url}: {t_served:.1f} s, "
              f"{len(app.state.generator.batches)} batches, largest {max(app.state.generator.batches)}")
        print(make_table(served))
        if args.no_reference:
            return
        ref_args = {"pretrained": ckpt.model, "device": "cpu", "dtype": "float32", "batch_size": 8}
        if ckpt.adapter:
            ref_args["peft"] = ckpt.adapter
        t0 = time.perf_counter()
        reference = evaluate("hf", ref_args, tasks_dir)
        print(f"== lm-eval hf (in process, {'peft adapter on ' if ckpt.adapter else ''}{ckpt.model}): {time.perf_counter() - t0:.1f} s")
        print(make_table(reference))
    a, b = metric_rows(served), metric_rows(reference)
    print("metric                            served    hf   difference")
    for key in sorted(a):
        print(f"{key:32s} {a[key]:7.4f} {b.get(key, float('nan')):7.4f} {a[key] - b.get(key, float('nan')):+.4f}")
    lls = per_sample(served, "served_mc"), per_sample(reference, "served_mc")
    diffs = [abs(x[0] - y[0]) for x, y in zip(lls[0], lls[1])]
    greedy_same = sum(x[1] == y[1] for x, y in zip(lls[0], lls[1]))
    gens = per_sample(served, "served_gen"), per_sample(reference, "served_gen")
    print(f"served_mc: {len(diffs)} continuation log-likelihoods, max |served - hf| = {max(diffs):.2e}, "
          f"is_greedy equal {greedy_same}/{len(diffs)}")
    print(f"served_gen: identical answers {sum(x == y for x, y in zip(*gens))}/{len(gens[0])}")


if __name__ == "__main__":
    main()
