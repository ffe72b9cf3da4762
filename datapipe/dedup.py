"""Deduplication: exact, by the MD5 of the normalised messages, and an
optional near-duplicate pass (MinHash over character shingles, `datasketch`) that reports clusters.

Exact dedup keeps the first occurrence: the first line within a source, the first source in the
recipe's order across sources. The hashes are held as a NumPy array of 16-byte values (16 bytes
a row), not as Python objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from datasets import Dataset

from datapipe.recipe import NearDupSpec

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

_SPACE = re.compile(r"\s+")


@dataclass
class NearDupCluster:
    members: list[int]  # global row numbers over the pools in order, first one kept


def shingles(text: str, k: int) -> set[bytes]:
    """Character k-grams of the lower-cased, space-collapsed text (no word splitting needed, so
    Chinese works like English)."""
    text = _SPACE.sub(" ", text.lower()).strip()
    if len(text) <= k:
        return {text.encode("utf-8")}
    return {text[i:i + k].encode("utf-8") for i in range(len(text) - k + 1)}


def near_duplicate_clusters(texts_by_batch, spec: NearDupSpec, seed: int) -> list[NearDupCluster]:
    """Clusters of rows whose MinHash-estimated Jaccard similarity is at least the threshold.

    `texts_by_batch` yields lists of texts (all pools, in order). LSH proposes candidate pairs;
    each pair is kept only if its estimated similarity reaches the threshold; clusters are the
    connected components (union-find), ordered by their first row.
    """
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=spec.threshold, num_perm=spec.num_perm)
    signatures: list = []
    for texts in texts_by_batch:
        hashes = MinHash.bulk([list(shingles(t, spec.shingle)) for t in texts], num_perm=spec.num_perm, seed=seed)
        for h in hashes:
            lean = LeanMinHash(h)
            lsh.insert(len(signatures), lean, check_duplication=False)
            signatures.append(lean)
    parent = list(range(len(signatures)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, sig in enumerate(signatures):
        for j in lsh.query(sig):
            if j > i and sig.jaccard(signatures[j]) >= spec.threshold:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(signatures)):
        groups.setdefault(find(i), []).append(i)
    return [NearDupCluster(members) for _root, members in sorted(groups.items()) if len(members) > 1]


def conversation_text(messages: list[dict]) -> str:
    return "\n".join(m.get("content", "") for m in messages)
