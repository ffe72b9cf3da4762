"""Benchmark: `harness data build` vs a plain `datasets` script doing the same steps, at two sizes.

Three generated JSONL sources (50% messages, 30% ShareGPT, 20% Alpaca; about 2% exact
duplicates and 1% rows with an empty answer) are built into train/validation JSONL and Arrow:

    ours   datapipe.build with a recipe (interleave until exhausted, valid_ratio 0.02)
    plain  load_dataset("json") per source, map (normalise to messages + MD5), filter (valid,
           first of its hash), concatenate, shuffle, train_test_split, to_json + save_to_disk

Each run is its own process, so its memory is its own: peak anonymous memory (RssAnon, sampled
every 20 ms: the heap, what would grow with Python lists of rows) and max RSS (which also counts
the pages of memory-mapped Arrow files that were read; the kernel can drop those at any time).
The same steps at N and 2N rows show whether memory grows with the row count. Runs alternate
and the fastest of `--repeat` counts, as the machine may be shared.

    python bench/data_build.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
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
    """The same steps with `datasets` alone."""
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


class PeakAnonymousMemory:
    """Samples RssAnon (heap and other private memory) every 20 ms. Max RSS also counts the pages
    of memory-mapped Arrow files that were read, which the kernel can drop at any time."""

    def __init__(self):
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.02)

    def sample(self):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


def child(kind: str, src: Path, out: Path) -> None:
    t0, cpu0 = time.perf_counter(), time.process_time()
    with PeakAnonymousMemory() as anon:
        rows = (run_ours if kind == "ours" else run_plain)(src, out)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"rows_out": rows, "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb,
                      "peak_anon_mb": anon.peak_kb / 1024}))


def measure(kind: str, src: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(src), str(out)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows read at the first size (the second is twice)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, alternating; the fastest counts (default: 2)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    sizes = (args.rows, 2 * args.rows)
    best: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        for rows in sizes:
            src = Path(tmp) / f"src-{rows}"
            src.mkdir()
            generate(src, rows)
            mb = sum(p.stat().st_size for p in src.iterdir()) / 2**20
            print(f"{rows} rows from three sources ({mb:.0f} MB of JSONL)", flush=True)
            for run in range(args.repeat):
                for kind in ("ours", "plain") if run % 2 == 0 else ("plain", "ours"):
                    out = Path(tmp) / f"{kind}-{rows}-{run}"
                    r = measure(kind, src, out)
                    shutil.rmtree(out, ignore_errors=True)
                    print(f"  {kind:5s} {r['seconds']:6.1f} s wall ({r['cpu_seconds']:5.1f} s CPU)  "
                          f"{rows / r['seconds']:7.0f} rows/s  max RSS {r['peak_mb']:4.0f} MB  "
                          f"peak anonymous {r['peak_anon_mb']:4.0f} MB  ({r['rows_out']} rows out)", flush=True)
                    if (kind, rows) not in best or r["seconds"] < best[kind, rows]["seconds"]:
                        best[kind, rows] = r
    print(f"fastest of {args.repeat} runs each:")
    for rows in sizes:
        ours, plain = best["ours", rows], best["plain", rows]
        print(f"  {rows} rows: ours {rows / ours['seconds']:.0f} rows/s, plain {rows / plain['seconds']:.0f} rows/s: "
              f"ours is {plain['seconds'] / ours['seconds']:.2f}x the speed of plain")
    for kind in ("ours", "plain"):
        a, b = best[kind, sizes[0]], best[kind, sizes[1]]
        print(f"  {kind}: peak anonymous memory {a['peak_anon_mb']:.0f} MB at {sizes[0]} rows, {b['peak_anon_mb']:.0f} MB "
              f"at {sizes[1]} ({b['peak_anon_mb'] - a['peak_anon_mb']:+.0f} MB); max RSS, counting the pages of "
              f"memory-mapped Arrow files read, {a['peak_mb']:.0f} MB and {b['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
