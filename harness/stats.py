"""Bootstrap confidence intervals, vectorised with numpy and seeded.

Every metric here is a ratio of sums over samples, `sum(num) / sum(den)`, optionally
transformed: a rate or mean has den = 1 per sample; perplexity has num = summed NLL and den =
counted tokens per sample, transformed by exp. Resampling is by sample, so long answers are not
treated as independent tokens.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

DEFAULT_RESAMPLES = 2000
Transform = Callable[[np.ndarray], np.ndarray]


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def ratio_stat(num: np.ndarray, den: np.ndarray, transform: Transform = _identity) -> float:
    return float(transform(np.asarray(num.sum() / den.sum())))


def bootstrap_ci(
    num, den=None, *, transform: Transform = _identity, n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0, level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of transform(sum(num)/sum(den)) resampling samples."""
    num = np.asarray(num, dtype=float)
    den = np.ones_like(num) if den is None else np.asarray(den, dtype=float)
    idx = _indices(len(num), n_resamples, seed)
    stats = transform(num[idx].sum(axis=1) / den[idx].sum(axis=1))
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def paired_bootstrap_delta(
    num_a, den_a, num_b, den_b, *, transform: Transform = _identity,
    n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = 0.95,
) -> tuple[float, float, float]:
    """(delta, lo, hi) of stat(B) - stat(A) on paired samples (same index i in A and B)."""
    arrays = [np.asarray(x, dtype=float) for x in (num_a, den_a, num_b, den_b)]
    na, da, nb, db = arrays
    delta = ratio_stat(nb, db, transform) - ratio_stat(na, da, transform)
    idx = _indices(len(na), n_resamples, seed)
    stats = transform(nb[idx].sum(1) / db[idx].sum(1)) - transform(na[idx].sum(1) / da[idx].sum(1))
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return delta, float(lo), float(hi)
