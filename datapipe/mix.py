"""Mixing the sources by weight, and the train/validation split.

interleave  rows drawn source by source with the normalised weights as probabilities, each source
            in a shuffled order, until every source is exhausted (no row twice; an exhausted
            source is skipped), or until `total` rows: the weights shape the mix only when
            `total` cuts it short.
resample    exact counts: `total` (default: all unique rows) split by weight with largest
            remainders; a source asked for no more rows than it has gives a sample without
            replacement, a larger count repeats every row as often as fits and draws the rest
            without replacement (so no row is left out while another repeats). A warning names
            each source repeated more than `max_upsample` times.

Both work on row numbers (NumPy arrays), never on the rows themselves: the build selects the
rows from Arrow once, at the end. The split keeps every copy of a row on one side (a row repeated
by resample never lands in both train and validation). All draws come from the recipe's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datapipe.recipe import MixSpec, SplitSpec, normalized_weights
from harness.errors import HarnessError


@dataclass
class Mix:
    source: np.ndarray  # per drawn row: the source's index
    rank: np.ndarray  # per drawn row: its position among the source's rows
    counts: list[int]  # rows drawn from each source
    warnings: list[str]


def mix(sizes: list[int], names: list[str], weights: list[float], spec: MixSpec, seed: int) -> Mix:
    usable = [i for i, (n, w) in enumerate(zip(sizes, weights)) if n and w > 0]
    warnings = [f"{names[i]}: weight > 0 but no rows left after normalisation and dedup"
                for i, (n, w) in enumerate(zip(sizes, weights)) if w > 0 and not n]
    if not usable:
        raise HarnessError("no rows to mix: every source with a weight above 0 is empty after normalisation and dedup "
                           "(see the rejected counts and rejects.jsonl)")
    shares = normalized_weights([weights[i] for i in usable])
    if spec.mode == "resample":
        source, rank = _resample(sizes, names, usable, shares, spec, seed, warnings)
    else:
        source, rank = _interleave(sizes, usable, shares, spec, seed, warnings)
    return Mix(source, rank, np.bincount(source, minlength=len(sizes)).tolist(), warnings)


def _interleave(sizes, usable, shares, spec: MixSpec, seed: int, warnings: list[str]):
    rng = np.random.default_rng(seed)
    remaining = {i: sizes[i] for i in usable}
    share = dict(zip(usable, shares))
    phases = []
    while remaining:  # one phase per source that runs out: draw among the rest until one does
        ids = np.array(sorted(remaining))
        p = np.array([share[i] for i in ids])
        need = sum(remaining.values())  # enough draws for some source to run out (pigeonhole)
        draws = ids[rng.choice(len(ids), size=need, p=p / p.sum())]
        ends = []
        for i in ids:
            hits = np.flatnonzero(draws == i)
            if len(hits) >= remaining[i]:
                ends.append(hits[remaining[i] - 1])
        stop = min(ends) + 1
        phases.append(draws[:stop])
        for i, n in zip(*np.unique(draws[:stop], return_counts=True)):
            remaining[int(i)] -= int(n)
            if remaining[int(i)] == 0:
                del remaining[int(i)]
    source = np.concatenate(phases)
    if spec.total is not None:
        if spec.total > len(source):
            warnings.append(f"interleave ran out of rows at {len(source)} of total {spec.total}; "
                            "use mix.mode: resample for exact counts")
        source = source[: spec.total]
    rank = np.empty(len(source), dtype=np.int64)
    for i in usable:  # the k-th draw of a source takes the k-th row of its shuffled order
        hits = np.flatnonzero(source == i)
        rank[hits] = np.random.default_rng([seed, i]).permutation(sizes[i])[: len(hits)]
    return source, rank


def _resample(sizes, names, usable, shares, spec: MixSpec, seed: int, warnings: list[str]):
    total = spec.total if spec.total is not None else sum(sizes[i] for i in usable)
    sources, ranks = [], []
    for i, target in zip(usable, largest_remainder(total, shares)):
        size = sizes[i]
        repeats, rest = divmod(target, size)
        rank = np.concatenate([np.tile(np.arange(size), repeats), np.random.default_rng([seed, i]).permutation(size)[:rest]])
        sources.append(np.full(target, i, dtype=np.int64))
        ranks.append(rank)
        if target / size > spec.max_upsample:
            warnings.append(f"{names[i]}: {target} rows from {size} unique, each repeated about "
                            f"{target / size:.1f} times (more than max_upsample {spec.max_upsample:g}); "
                            "the model may overfit to it")
    return np.concatenate(sources), np.concatenate(ranks)


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


def split(row_keys: np.ndarray, spec: SplitSpec, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation): positions into the mix, each in a shuffled order.

    `row_keys` holds one uint64 per mixed row, equal for copies of one row: the validation split
    takes the rows with the smallest keys, whole groups at a time.
    """
    n = len(row_keys)
    if n < 2:
        raise HarnessError(f"only {n} row(s) after mixing: too few to split into train and validation")
    n_val = validation_size(n, spec)
    threshold = np.partition(row_keys, n_val - 1)[n_val - 1]
    in_val = row_keys <= threshold
    if in_val.all():
        raise HarnessError("every row after mixing is a copy of one conversation: nothing left to split")
    rng = np.random.default_rng(seed)
    train, validation = np.flatnonzero(~in_val), np.flatnonzero(in_val)
    return train[rng.permutation(len(train))], validation[rng.permutation(len(validation))]


def seeded_keys(hashes: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random uint64 per 16-byte hash, fixed by the seed (splitmix64 of its first 8 bytes)."""
    x = hashes.view(np.uint8).reshape(-1, 16)[:, :8].copy().view(np.uint64).ravel()
    x = x ^ np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
