"""Mixing the sources by weight, and the train/validation split (seed 003, steps 5, 7, 9).

interleave  each source shuffled, then rows drawn source by source with the normalised weights
            as probabilities until every source is exhausted (no row twice), or until `total`
            rows: the weights shape the mix only when `total` cuts it short.
resample    exact counts: `total` (default: all unique rows) split by weight with largest
            remainders; a source asked for no more rows than it has gives a sample without
            replacement, a larger count repeats every row as often as fits and draws the rest
            without replacement (so no row is left out while another repeats). A warning names
            each source repeated more than `max_upsample` times.

The split keeps every copy of a row on one side (a row repeated by resample never lands in both
train and validation). All draws come from the recipe's one seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasets import Dataset, concatenate_datasets, interleave_datasets

from harness.errors import HarnessError
from datapipe.recipe import MixSpec, SplitSpec, normalized_weights

BATCH = 10_000


@dataclass
class MixResult:
    dataset: Dataset
    counts: list[int]  # rows drawn from each source
    warnings: list[str]


def mix(pools: list[Dataset], names: list[str], weights: list[float], spec: MixSpec, seed: int) -> MixResult:
    usable = [i for i, (p, w) in enumerate(zip(pools, weights)) if len(p) and w > 0]
    warnings = [f"{names[i]}: weight > 0 but no rows left after normalisation and dedup"
                for i, (p, w) in enumerate(zip(pools, weights)) if w > 0 and not len(p)]
    if not usable:
        raise HarnessError("no rows to mix: every source with a weight above 0 is empty after normalisation and dedup "
                           "(see the rejected counts and rejects.jsonl)")
    shares = normalized_weights([weights[i] for i in usable])
    if spec.mode == "resample":
        return _resample(pools, names, usable, shares, spec, seed, warnings)
    return _interleave(pools, names, usable, shares, spec, seed, warnings)


def _interleave(pools, names, usable, shares, spec: MixSpec, seed: int, warnings: list[str]) -> MixResult:
    shuffled = [pools[i].shuffle(seed=seed) for i in usable]
    if len(shuffled) == 1:
        mixed = shuffled[0]
    else:
        mixed = interleave_datasets(shuffled, probabilities=shares, seed=seed,
                                    stopping_strategy="all_exhausted_without_replacement")
    if spec.total is not None:
        if spec.total > len(mixed):
            warnings.append(f"interleave ran out of rows at {len(mixed)} of total {spec.total}; "
                            "use mix.mode: resample for exact counts")
        else:
            mixed = mixed.select(range(spec.total))
    counts = [0] * len(pools)
    drawn = value_counts(mixed, "source")
    for i in usable:
        counts[i] = drawn.get(names[i], 0)
    return MixResult(mixed, counts, warnings)


def _resample(pools, names, usable, shares, spec: MixSpec, seed: int, warnings: list[str]) -> MixResult:
    total = spec.total if spec.total is not None else sum(len(pools[i]) for i in usable)
    targets = largest_remainder(total, shares)
    counts = [0] * len(pools)
    parts = []
    for i, target in zip(usable, targets):
        size = len(pools[i])
        counts[i] = target
        if target == 0:
            continue
        rng = np.random.default_rng([seed, i])
        repeats, rest = divmod(target, size)
        indices = np.concatenate([np.tile(np.arange(size), repeats), rng.permutation(size)[:rest]])
        parts.append(pools[i].select(indices))
        if target / size > spec.max_upsample:
            warnings.append(f"{names[i]}: {target} rows from {size} unique, each repeated about "
                            f"{target / size:.1f} times (more than max_upsample {spec.max_upsample:g}); "
                            "the model may overfit to it")
    return MixResult(concatenate_datasets(parts), counts, warnings)


def largest_remainder(total: int, shares: list[float]) -> list[int]:
    """Integer counts summing to `total`, proportional to `shares` (ties to the earlier source)."""
    exact = [total * s for s in shares]
    counts = [int(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def validation_size(n: int, spec: SplitSpec) -> int:
    """valid_ratio of the rows, at least min_valid when at least as many rows stay for training."""
    n_val = max(round(n * spec.valid_ratio), min(spec.min_valid, n // 2))
    return max(n_val, 1)


def split(ds: Dataset, spec: SplitSpec, seed: int) -> tuple[Dataset, Dataset]:
    """(train, validation), each shuffled; rows with equal hashes stay on one side."""
    n = len(ds)
    if n < 2:
        raise HarnessError(f"only {n} row(s) after mixing: too few to split into train and validation")
    keys = _row_keys(ds, seed)
    n_val = validation_size(n, spec)
    threshold = np.partition(keys, n_val - 1)[n_val - 1]
    in_val = keys <= threshold  # whole groups: equal hashes have equal keys
    if in_val.all():
        raise HarnessError("every row after mixing is a copy of one conversation: nothing left to split")
    train = ds.select(np.flatnonzero(~in_val)).shuffle(seed=seed)
    validation = ds.select(np.flatnonzero(in_val)).shuffle(seed=seed)
    return train, validation


def _row_keys(ds: Dataset, seed: int) -> np.ndarray:
    """A seeded pseudo-random uint64 per row, equal for equal hashes (splitmix64 of the hash)."""
    parts = [np.zeros(0, dtype=np.uint64)]
    for batch in ds.select_columns(["hash"]).iter(batch_size=BATCH):
        parts.append(np.array([int(h[:16], 16) for h in batch["hash"]], dtype=np.uint64))
    x = np.concatenate(parts) ^ np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def value_counts(ds: Dataset, column: str) -> dict[str, int]:
    """How often each value of a string column occurs (Arrow batches, no Python list of the rows)."""
    import pyarrow.compute as pc

    counts: dict[str, int] = {}
    for batch in ds.select_columns([column]).with_format("arrow").iter(batch_size=BATCH):
        for item in pc.value_counts(batch[column]).to_pylist():
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    return counts
