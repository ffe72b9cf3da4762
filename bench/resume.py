"""Benchmark: `harness run --resume` of a finished run vs the cold run that made it.

A resumed run regenerates nothing that samples.jsonl holds and rescores nothing that scores.jsonl
holds; on a finished run it only summarises and renders again, without loading the model. Both
are timed as a user sees them: a fresh `harness` process each, start-up and model load included.
The resumed run must give the same summary.

    python bench/resume.py [--ckpt smollm2-135m-instruct] [--suite lab1] [--task T ...] [--gen KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"harness {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="smollm2-135m-instruct")
    parser.add_argument("--suite", default="lab1")
    parser.add_argument("--task", action="append", default=[])
    parser.add_argument("--gen", action="append", default=[])
    args = parser.parse_args()
    extra = [x for t in args.task for x in ("--task", t)] + [x for g in args.gen for x in ("--gen", g)]
    with tempfile.TemporaryDirectory() as tmp:
        cold = timed(["run", "--suite", args.suite, "--ckpt", args.ckpt, *extra, "--runs-dir", tmp])
        (run,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        before = json.loads((run / "summary.json").read_text())["metrics"]
        n_samples = sum(1 for _ in (run / "samples.jsonl").open())
        resumed = timed(["run", "--resume", str(run)])
        after = json.loads((run / "summary.json").read_text())["metrics"]
    print(f"{args.suite} on {args.ckpt}{' ' + ' '.join(extra) if extra else ''}: {n_samples} sample records")
    print(f"cold run:               {cold:8.2f} s")
    print(f"resumed (finished) run: {resumed:8.2f} s")
    print(f"speed-up: {cold / resumed:.1f}x; same summary: {before == after}")


if __name__ == "__main__":
    main()
