"""Benchmark: how fast the refusal classifier labels answers on CPU (the issue's target: 2,250
answers well under a minute on 2 cores), against the rules alone in the same run.

    python bench/refusal_speed.py [--n 2250]

The answers are the development set's (tests/data/refusal_dev.jsonl), repeated up to --n.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from suites.scorers.refusal import classify_refusal, rule_label

DEV = Path(__file__).resolve().parent.parent / "tests" / "data" / "refusal_dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2250)
    args = parser.parse_args()
    answers = [json.loads(line)["response"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = (answers * (args.n // len(answers) + 1))[: args.n]
    classify_refusal(texts[0])  # loads the weights
    for name, fn in (("rules only", rule_label), ("refusal model", classify_refusal)):
        t0 = time.perf_counter()
        for text in texts:
            fn(text)
        seconds = time.perf_counter() - t0
        print(f"{name}: {len(texts)} answers ({sum(map(len, texts)) // len(texts)} chars on average) in {seconds:.2f} s, "
              f"{len(texts) / seconds:.0f} answers/s")


if __name__ == "__main__":
    main()
