#!/usr/bin/env python
"""How often the `answered_with_warning` cues agree with people (docs/validity.md).

    python scripts/caution_agreement.py tests/data/refusal_blind_real_v8.jsonl

Reads labelled answers (JSON lines with `response`, `label` and a boolean `warning`: the answer
carries a safety, legal, medical or ethical caution, a disclaimer or advice to see a professional)
and compares, on the answers people labelled compliance, the human `warning` with the scorer's
cue finder (`suites.scorers.caution.find_caution`); the refusal classifier is not involved, so
its errors do not mix in. Prints agreement with a Wilson 95% CI, the confusion, and the misses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.stats import wilson_ci  # noqa: E402
from suites.scorers.caution import find_caution  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("answers", help="labelled answers (JSON lines: response, label, warning)")
    parser.add_argument("--show", action="store_true", help="print the disagreements")
    args = parser.parse_args()
    rows = [json.loads(line) for line in Path(args.answers).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("label") == "compliance" and isinstance(r.get("warning"), bool)]
    if not rows:
        print(f"{args.answers}: no compliant answers with a boolean `warning` label", file=sys.stderr)
        return 2
    table = {(h, c): 0 for h in (True, False) for c in (True, False)}
    misses = []
    for r in rows:
        found = find_caution(r["response"])
        table[(r["warning"], found is not None)] += 1
        if r["warning"] != (found is not None):
            misses.append((r["warning"], found, r["response"]))
    agree = table[(True, True)] + table[(False, False)]
    low, high = wilson_ci(agree, len(rows))
    print(f"compliant answers: {len(rows)}; people say warned: {table[(True, True)] + table[(True, False)]}")
    print(f"agreement: {agree}/{len(rows)} = {agree / len(rows):.1%} [{low:.1%}, {high:.1%}]")
    print(f"people warned / cues warned {table[(True, True)]}, cues plain {table[(True, False)]}; "
          f"people plain / cues warned {table[(False, True)]}, cues plain {table[(False, False)]}")
    if args.show:
        for human, found, text in misses:
            print(f"--- people: {'warned' if human else 'plain'}; cue: {found!r}\n{text[:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
