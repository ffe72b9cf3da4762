"""Training conversations: `messages` rows from a JSONL file (checked, errors name file:line), from
a `harness data build` output directory, or from a hub dataset (where a hub is reachable); and the
train/validation split."""

from __future__ import annotations

import random
from pathlib import Path

from datapipe.sources import hub_dataset_problem
from harness.errors import HarnessError
from harness.io.jsonl import read_jsonl
from harness.suite import check_messages
from trainers.config import DataSettings

Conversation = list[dict]


def load_conversations(spec: str, *, split: str = "train", max_samples: int | None = None, seed: int = 42) -> list[Conversation]:
    """Conversations from a JSONL file of {"messages": [...]}, the train.jsonl of a `harness data
    build` output directory, or a hub dataset with a messages column."""
    path = Path(spec)
    if path.is_dir():
        path = build_output_file(path, "train.jsonl")
    if path.suffix in {".jsonl", ".json"} or path.exists():
        rows = read_jsonl(path, what="training data")
        convs = []
        for row in rows:
            where = f"{path}:{row['__line__']}"
            if "messages" not in row:
                raise HarnessError(f"{where}: each row needs 'messages' (a list of {{role, content}})")
            check_messages(row["messages"], where, need_assistant=True)
            if not any(m["role"] == "assistant" for m in row["messages"]):
                raise HarnessError(f"{where}: no assistant turn to train on")
            convs.append([_turn(m) for m in row["messages"]])
        if not convs:
            raise HarnessError(f"{path}: no training examples")
        return convs[:max_samples] if max_samples else convs
    return _load_hub(spec, split, max_samples, seed)


def _turn(m: dict) -> dict:
    """role and content; an assistant turn's `reasoning_content` too (Qwen3's templates render it as
    the turn's thinking block)."""
    turn = {"role": m["role"], "content": m["content"]}
    if m["role"] == "assistant" and isinstance(m.get("reasoning_content"), str):
        turn["reasoning_content"] = m["reasoning_content"]
    return turn


def _load_hub(dataset_id: str, split: str, max_samples: int | None, seed: int) -> list[Conversation]:
    problem = hub_dataset_problem(dataset_id)
    if problem:
        raise HarnessError(f"training data '{dataset_id}' is not a local file, and as a hub dataset: {problem}")
    from datasets import load_dataset

    ds = load_dataset(dataset_id, split=split)
    if "messages" not in ds.column_names:
        raise HarnessError(f"hub dataset {dataset_id} split {split} has no 'messages' column (has: {', '.join(ds.column_names)})")
    ds = ds.shuffle(seed=seed)  # the lab's step 2: shuffle(seed=42).select(range(8000))
    if max_samples:
        ds = ds.select(range(min(max_samples, len(ds))))
    convs = []
    for i, row in enumerate(ds):
        check_messages(row["messages"], f"{dataset_id}[{split}][{i}]", need_assistant=True)
        convs.append([_turn(m) for m in row["messages"]])
    return convs


def build_output_file(directory: Path, name: str) -> Path:
    """A file of a `harness data build` output directory (train.jsonl, validation.jsonl)."""
    path = directory / name
    if not path.is_file():
        raise HarnessError(f"{directory} is a directory without {name}: give a messages JSONL file or the output "
                           "directory of `harness data build` (built with output.jsonl on)")
    return path


def train_validation(settings: DataSettings, seed: int) -> tuple[list[Conversation], list[Conversation]]:
    train = load_conversations(settings.train, split=settings.train_split, max_samples=settings.max_samples, seed=seed)
    validation = settings.validation
    if not validation and Path(settings.train).is_dir():  # a build output carries its validation split
        validation = str(build_output_file(Path(settings.train), "validation.jsonl"))
    if validation:
        return train, load_conversations(validation, seed=seed)
    shuffled = list(train)
    random.Random(seed).shuffle(shuffled)
    n_val = max(1, round(len(shuffled) * settings.val_split))
    if len(shuffled) - n_val < 1:
        raise HarnessError(f"{settings.train}: too few examples ({len(train)}) to split off a validation set")
    return shuffled[n_val:], shuffled[:n_val]
