"""Deduplication: exact, by the MD5 of the normalised messages, and an
optional near-duplicate pass (MinHash over character shingles, `datasketch`) that reports clusters.

Exact dedup keeps the first occurrence: the first line within a source, the first source in the
recipe's order across sources. The hashes are held as a NumPy array of 16-byte values (16 bytes
a row), not as Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasets import Dataset

from datapipe.recipe import NearDupSpec
from harness.near_duplicates import NearDuplicateIndex, clusters

BATCH = 10_000


def hash_array(ds: Dataset) -> np.ndarray:
    """The `hash` column as 16-byte values (np.void), in row order."""
    parts = [np.zeros(0, dtype="V16")]
    for batch in ds.select_columns(["hash"]).iter(batch_size=BATCH):
        parts.append(np.frombuffer(bytes.fromhex("".join(batch["hash"])), dtype="V16"))
    return np.concatenate(parts)


def first_occurrences(hashes: np.ndarray) -> np.ndarray:
    """Sorted positions of the first row of each distinct hash."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first = np.unique(hashes, return_index=True)
    return np.sort(first)


def across_sources(pool_hashes: list[np.ndarray]) -> list[np.ndarray]:
    """For each pool (already unique within itself): positions of rows not in an earlier pool."""
    sizes = [len(h) for h in pool_hashes]
    keep = first_occurrences(np.concatenate(pool_hashes)) if sum(sizes) else np.zeros(0, dtype=np.int64)
    starts = np.cumsum([0, *sizes])
    return [keep[(keep >= starts[i]) & (keep < starts[i + 1])] - starts[i] for i in range(len(sizes))]


# --- near-duplicates ------------------------------------------------------------------------


@dataclass
class NearDupCluster:
    members: list[int]  # global row numbers over the pools in order, first one kept


def near_duplicate_clusters(texts_by_batch, spec: NearDupSpec, seed: int) -> list[NearDupCluster]:
    """Clusters of rows whose MinHash-estimated Jaccard similarity is at least the threshold.

    `texts_by_batch` yields lists of texts (all pools, in order). LSH proposes candidate pairs;
    each pair is kept only if its estimated similarity reaches the threshold; clusters are the
    connected components (union-find), ordered by their first row (harness/near_duplicates.py).
    """
    index = NearDuplicateIndex(spec.threshold, spec.num_perm, spec.shingle, seed)
    for texts in texts_by_batch:
        index.add(texts)
    return [NearDupCluster(members) for members in clusters(len(index.signatures), index.pairs())]


def conversation_text(messages: list[dict]) -> str:
    return "\n".join(m.get("content", "") for m in messages)
