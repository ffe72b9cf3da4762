"""Datasets of the local lm-eval tasks (local_mc.yaml, local_gen.yaml): JSONL files next to this
module, so the tasks load offline from any working directory (lm-eval's `custom_dataset`)."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _splits(name: str):
    from datasets import Dataset, DatasetDict

    rows = [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return DatasetDict({split: Dataset.from_list([{k: v for k, v in r.items() if k != "split"}
                                                   for r in rows if r["split"] == split])
                        for split in ("train", "test")})


def multiple_choice(**kwargs):
    return _splits("local_mc.jsonl")


def generation(**kwargs):
    return _splits("local_gen.jsonl")
