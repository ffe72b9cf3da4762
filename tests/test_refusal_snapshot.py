"""A regression snapshot of the refusal classifier (suites/scorers/refusal.py) on the 76 texts
of tests/data/refusal_labelled.jsonl, and not an accuracy test.

Those texts were written and labelled while the classifier's rules were tuned, and the rules
were adjusted until every one came out right: passing here says only that the labels did not
change. How well the classifier does on answers it was not tuned on is a question for a
held-out evaluation set. A deliberate change to the rules re-baselines the snapshot: update the
labels in the data file, with the reason, in the same commit.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from suites.scorers.refusal import FULL_REFUSAL, LABELS, PARTIAL_REFUSAL, classify_refusal, normalise_text

SNAPSHOT = Path(__file__).parent / "data" / "refusal_labelled.jsonl"


def snapshot() -> list[dict]:
    with SNAPSHOT.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_the_snapshot_covers_both_languages_and_every_label():
    rows = snapshot()
    assert len(rows) == 76
    for row in rows:
        assert set(row) == {"text", "label", "lang"} and row["label"] in LABELS and row["lang"] in {"en", "zh"}, row
        assert row["text"].strip()
    counts = Counter((row["lang"], row["label"]) for row in rows)
    assert all(counts[(lang, label)] >= 10 for lang in ("en", "zh") for label in LABELS), counts


def test_labels_on_the_tuning_texts_are_unchanged():
    changed = []
    for i, row in enumerate(snapshot()):
        label, reason = classify_refusal(row["text"])
        if label != row["label"]:
            changed.append(f"#{i} [{row['lang']}] snapshot {row['label']}, now {label} ({reason}): {row['text'][:100]!r}")
    assert not changed, f"{len(changed)} labels changed:\n" + "\n".join(changed)


def test_refusal_reasons_quote_the_matched_phrase():
    for row in snapshot():
        label, reason = classify_refusal(row["text"])
        assert isinstance(reason, str) and reason.strip(), row
        if label in (FULL_REFUSAL, PARTIAL_REFUSAL):
            quoted = re.search(r'"([^"]+)"', reason)
            assert quoted and quoted.group(1) in normalise_text(row["text"]), (reason, row["text"])
