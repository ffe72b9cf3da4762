"""How each scorer's time grows with the answer: every registered per-sample scorer, the judge
verdict parsers and the thinking split, on adversarial answers of 10 KB, 100 KB and 1 MB.

    python bench/scorer_scaling.py                       # the table, and the 1 MB / 100 KB ratios
    python bench/scorer_scaling.py --sizes 1000000 --check   # tests/test_property_scorers.py runs this

Linear code shows a ratio near 10 between 1 MB and 100 KB; a regex with catastrophic
backtracking shows 100 or more (or never finishes). The shapes are the ones that break naive
regexes and parsers: unclosed fences followed by whitespace, thousands of unclosed <think> tags,
brackets that never close, 10k-deep JSON, long lines of table pipes, repeated refusal phrases
("sorry, but " x 100,000), one huge word, CJK text, a valid JSON array of 1 MB.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHAPES = {
    "one word": lambda n: "a" * n,
    "prose": lambda n: ("I can't help with that, but here is an outline of the idea. " * (n // 60 + 1))[:n],
    "fence + spaces": lambda n: "```" + " " * (n - 3),
    "many fences": lambda n: ("```json\n" * (n // 8 + 1))[:n],
    "unclosed <think>": lambda n: ("<think>" * (n // 7 + 1))[:n],
    "open brackets": lambda n: "[" * n,
    "open braces": lambda n: "{" * n,
    "nested list 10k": lambda n: ("[" * 10_000 + "1" + "]" * 10_000 + " " * n)[:max(n, 20_001)],
    "list prefix": lambda n: ("[0," * (n // 3 + 1))[:n],
    "pipes": lambda n: "|" * n,
    "table rows": lambda n: ("| a | b |\n|---|---|\n" * (n // 20 + 1))[:n],
    "sorry, but": lambda n: ("sorry, but " * (n // 11 + 1))[:n],
    "我不能帮你": lambda n: "我不能帮你" * (n // 5),
    "digits": lambda n: "1" * n,
    "sentences": lambda n: ("I am. " * (n // 6 + 1))[:n],
    "verdict lines": lambda n: ("Verdict: [[A]]\n" * (n // 15 + 1))[:n],
    "json array": lambda n: '{"a": [' + ",".join(["1"] * (n // 2)) + "]}",
}


class Answer:
    def __init__(self, text: str):
        self.text = self.raw = self.output = text
        self.finish_reason = "stop"


def _samples() -> list[dict]:
    out = []
    for name in ("format.jsonl", "safety.jsonl", "compare10.jsonl"):
        out += [json.loads(line) for line in (REPO / "suites" / "data" / name).read_text(encoding="utf-8").splitlines()]
    return out


# scorers that need parameters: the ones a suite would give (json_valid in both modes)
PARAMS = {"json_valid": [{"mode": "strict"}, {"mode": "lenient"}], "contains": [{"value": "json"}],
          "exact_match": [{"value": "yes"}], "regex": [{"pattern": r"\d+"}], "lm_eval_metric": [{"metric": "acc"}]}


def subjects() -> dict[str, callable]:
    """name -> f(text) for every per-sample text scorer (with a lab1 sample it applies to) and parser."""
    from harness.scorers import registered_scorers
    from harness.text import split_thinking
    from judges.verdicts import parse_pairwise, parse_refusal, parse_rubric

    samples = _samples()
    out = {}
    for name, info in sorted(registered_scorers().items()):
        if info.batch or "generate" not in info.task_kinds:
            continue
        for params in PARAMS.get(name, [{}]):
            fn = info.factory(**params)
            sample = next((s for s in samples if fn(s, Answer("x")) is not None), None)
            if sample is None:
                continue
            label = f"{name}:{':'.join(map(str, params.values()))}" if params else name
            out[label] = (lambda fn, sample: lambda text: fn(dict(sample), Answer(text)))(fn, sample)
    out["parse_pairwise"], out["parse_rubric"], out["parse_refusal"] = parse_pairwise, parse_rubric, parse_refusal
    out["split_thinking"] = split_thinking
    return out


def problem(name: str, result) -> str | None:
    """Why `result` is not a decided value or a reasoned "unscored" (None when it is)."""
    from harness.scorers import Score

    if name.startswith("parse_"):
        return None if (result.ok or result.error) else "a verdict that neither parsed nor said why"
    if name == "split_thinking":
        return None if isinstance(result, str) else "not text"
    if result is None:
        return None
    if not isinstance(result, Score) or not result.reason:
        return f"not a Score with a reason: {result!r}"[:200]
    if result.value is None:
        return None if result.reason.startswith("unscored: ") else f"unscored without 'unscored: ' reason: {result.reason[:100]}"
    return None if not math.isnan(result.value) else "NaN"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="answer sizes in characters, comma-separated")
    ap.add_argument("--check", action="store_true", help="exit 1 unless every result is decided or reasoned")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    funcs = subjects()
    times: dict[tuple[str, str, int], float] = {}
    problems = []
    for size in sizes:
        for shape, make in SHAPES.items():
            text = make(size)
            for name, fn in funcs.items():
                start = time.perf_counter()
                try:
                    result = fn(text)
                except Exception as e:  # noqa: BLE001 (reported, the point of the check)
                    problems.append(f"{name} on {shape} ({size}): raised {type(e).__name__}: {e}"[:300])
                    continue
                times[(name, shape, size)] = time.perf_counter() - start
                why = problem(name, result)
                if why:
                    problems.append(f"{name} on {shape} ({size}): {why}")
    print(f"{'scorer / parser':24} " + " ".join(f"{f'max s @ {s:,}':>16}" for s in sizes)
          + ("   ratio (slowest shape)" if len(sizes) > 1 else "") + "   slowest shape at the largest size")
    for name in funcs:
        row = [max((times.get((name, sh, s), 0.0) for sh in SHAPES), default=0.0) for s in sizes]
        slowest = max(SHAPES, key=lambda sh: times.get((name, sh, sizes[-1]), 0.0))
        ratio = ""
        if len(sizes) > 1:
            big, small = times.get((name, slowest, sizes[-1]), 0.0), times.get((name, slowest, sizes[-2]), 0.0)
            ratio = f"   {big / small:8.1f}x" if small > 0 else "        -"
        print(f"{name:24} " + " ".join(f"{t:16.3f}" for t in row) + ratio + f"   {slowest}")
    if problems:
        print("\n".join(["problems:", *problems]))
        return 1
    if args.check:
        print("checked: every scorer decided or said why on every input")
    return 0


if __name__ == "__main__":
    sys.exit(main())
