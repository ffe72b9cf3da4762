"""Benchmark: `harness data build` vs a plain `datasets` script doing the same steps, at two sizes.

Three generated JSONL sources (50% messages, 30% ShareGPT, 20% Alpaca; about 2% exact
duplicates and 1% rows with an empty answer) are built into train/validation JSONL and Arrow:

    ours   datapipe.build with a recipe (interleave until exhausted, valid_ratio 0.02)
    plain  load_dataset("json") per source, map (normalise to messages + MD5), filter (valid,
           first of its hash), concatenate, shuffle, train_test_split, to_json + save_to_disk

Each run is its own process, so its peak memory (max RSS) is its own. The same steps at N and
2N rows show whether memory grows with the row count.

    python bench/data_build.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARES = {"chat": 0.5, "sharegpt": 0.3, "alpaca": 0.2}
WORDS = ("data model token batch loss curve adapter rank learning rate schedule checkpoint eval "
         "prompt answer format json table refusal helpful benign harmful system user assistant").split()


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def generate(folder: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for name, share in SHARES.items():
        n = int(rows * share)
        made: list[tuple[str, str]] = []
        with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for i in range(n):
                if made and rng.random() < 0.02:
                    q, a = rng.choice(made)  # an exact duplicate
                else:
                    q, a = f"{i}: {_text(rng, rng.randint(10, 40))}?", _text(rng, rng.randint(20, 120))
                    made.append((q, a))
                if rng.random() < 0.01:
                    a = ""  # a row every pipeline must reject
                if name == "chat":
                    row = {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
                elif name == "sharegpt":
                    row = {"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}
                else:
                    row = {"instruction": q, "input": "", "output": a}
                f.write(json.dumps(row) + "\n")


def run_ours(src: Path, out: Path) -> int:
    import yaml

    from datapipe.build import build
    from datapipe.recipe import load_recipe

    recipe = src / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "seed": 42, "sources": [{"name": n, "path": f"{n}.jsonl", "weight": w} for n, w in SHARES.items()],
        "mix": {"mode": "interleave"}, "split": {"valid_ratio": 0.02, "min_valid": 100}}))
    report = build(load_recipe(recipe), out)
    return report.train + report.validation


def run_plain(src: Path, out: Path) -> int:
    """The seed-003 way with `datasets` alone."""
    import hashlib

    from datasets import DatasetDict, concatenate_datasets, disable_progress_bars, load_dataset

    disable_progress_bars()

    def normalize(row: dict) -> dict:
        if row.get("messages"):
            msgs = [{"role": m["role"], "content": m["content"].strip()} for m in row["messages"]]
        elif row.get("conversations"):
            roles = {"human": "user", "gpt": "assistant"}
            msgs = [{"role": roles[t["from"]], "content": t["value"].strip()} for t in row["conversations"]]
        else:
            msgs = [{"role": "user", "content": row["instruction"].strip()},
                    {"role": "assistant", "content": row["output"].strip()}]
        ok = bool(msgs) and msgs[-1]["role"] == "assistant" and all(m["content"] for m in msgs)
        return {"messages": msgs, "ok": ok, "md5": hashlib.md5(json.dumps(msgs, ensure_ascii=False).encode()).hexdigest()}

    parts = []
    seen: set[str] = set()
    for name in SHARES:
        ds = load_dataset("json", data_files=str(src / f"{name}.jsonl"), split="train", cache_dir=str(out / "cache"))
        ds = ds.map(normalize, remove_columns=ds.column_names)

        def first_valid(row: dict) -> bool:
            if not row["ok"] or row["md5"] in seen:
                return False
            seen.add(row["md5"])
            return True

        parts.append(ds.filter(first_valid).remove_columns(["ok", "md5"]))
    mixed = concatenate_datasets(parts).shuffle(seed=42)
    splits = mixed.train_test_split(test_size=max(100, round(0.02 * len(mixed))), seed=42)
    result = DatasetDict({"train": splits["train"], "validation": splits["test"]})
    result.save_to_disk(str(out / "arrow"))
    result["train"].to_json(str(out / "train.jsonl"), force_ascii=False)
    result["validation"].to_json(str(out / "validation.jsonl"), force_ascii=False)
    return len(mixed)


def child(kind: str, src: Path, out: Path) -> None:
    t0 = time.perf_counter()
    rows = (run_ours if kind == "ours" else run_plain)(src, out)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"rows_out": rows, "seconds": seconds, "peak_mb": peak_mb}))


def measure(kind: str, src: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(src), str(out)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows read at the first size (the second is twice)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        for rows in (args.rows, 2 * args.rows):
            src = Path(tmp) / f"src-{rows}"
            src.mkdir()
            generate(src, rows)
            mb = sum(p.stat().st_size for p in src.iterdir()) / 2**20
            print(f"{rows} rows from three sources ({mb:.0f} MB of JSONL)", flush=True)
            for kind in ("ours", "plain"):
                r = measure(kind, src, Path(tmp) / f"{kind}-{rows}")
                results[kind, rows] = r
                print(f"  {kind:5s} {r['seconds']:6.1f} s  {rows / r['seconds']:8.0f} rows read/s  "
                      f"peak {r['peak_mb']:6.0f} MB  ({r['rows_out']} rows out)", flush=True)
    n1, n2 = args.rows, 2 * args.rows
    for rows in (n1, n2):
        ratio = results["plain", rows]["seconds"] / results["ours", rows]["seconds"]
        print(f"at {rows} rows: ours is {ratio:.2f}x the speed of plain; peak memory ours/plain "
              f"{results['ours', rows]['peak_mb'] / results['plain', rows]['peak_mb']:.2f}")
    for kind in ("ours", "plain"):
        grow = results[kind, n2]["peak_mb"] - results[kind, n1]["peak_mb"]
        print(f"{kind}: peak memory {results[kind, n1]['peak_mb']:.0f} MB at {n1} rows, "
              f"{results[kind, n2]['peak_mb']:.0f} MB at {n2} rows (+{grow:.0f} MB for {n2 - n1} more rows)")


if __name__ == "__main__":
    main()
