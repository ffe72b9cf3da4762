"""Confidence intervals: Wilson score intervals for rates, seeded numpy bootstraps for the rest.

Every metric here is a ratio of sums over samples, `sum(num) / sum(den)`, optionally
transformed: a rate or mean has den = 1 per sample; perplexity has num = summed NLL and den =
counted tokens per sample, transformed by exp. Resampling is by sample, so long answers are not
treated as independent tokens.

A rate of pass/fail samples gets the Wilson interval: the percentile bootstrap of 10 samples
that all pass is [1.0, 1.0] (every resample passes too), which claims a certainty 10 samples
cannot give; Wilson's is [0.72, 1.0]. Means of graded scores, perplexity and paired deltas keep
the bootstrap.

Whether a paired delta is significant is decided by a test that holds at small n (see
harness.metrics.summarize_delta): the exact sign test (exact McNemar) on the discordant pairs of a
pass/fail metric; for graded metrics the paired bootstrap, only from MIN_BOOTSTRAP_PAIRS pairs up and
never from a degenerate (zero-width) interval.
"""

from __future__ import annotations

from collections import Counter
from math import comb
from statistics import NormalDist
from typing import Callable

import numpy as np

DEFAULT_RESAMPLES = 2000
# Indices drawn per chunk of resamples. Small enough that the index matrix and the gathered
# values stay in cache (faster than one big matrix, and memory stays flat for any n).
CHUNK_INDICES = 1 << 18
Transform = Callable[[np.ndarray], np.ndarray]


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def resampled_sums(arrays: list[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """For each array, its sum over each of `n_resamples` bootstrap resamples of the samples.

    All arrays share the same resampled indices (so num/den, and runs A/B, stay paired). numpy
    draws the same index stream in chunks as in one go, so chunking does not change the results.
    """
    n = len(arrays[0])
    rng = np.random.default_rng(seed)
    rows = max(1, CHUNK_INDICES // max(n, 1))
    sums = [np.empty(n_resamples) for _ in arrays]
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        for out, values in zip(sums, arrays):
            out[start:stop] = values[idx].sum(axis=1)
    return sums


def _percentiles(stats: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def ratio_stat(num: np.ndarray, den: np.ndarray, transform: Transform = _identity) -> float:
    return float(transform(np.asarray(num.sum() / den.sum())))


def bootstrap_ci(
    num, den=None, *, transform: Transform = _identity, n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0, level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of transform(sum(num)/sum(den)) resampling samples."""
    num = np.asarray(num, dtype=float)
    if not len(num):
        raise ValueError("bootstrap_ci needs at least one sample (n = 0 is 'no data')")
    den = np.ones_like(num) if den is None else np.asarray(den, dtype=float)
    num_sums, den_sums = resampled_sums([num, den], n_resamples, seed)
    return _percentiles(transform(num_sums / den_sums), level)


def paired_bootstrap_delta(
    num_a, den_a, num_b, den_b, *, transform: Transform = _identity,
    n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = 0.95,
) -> tuple[float, float, float]:
    """(delta, lo, hi) of stat(B) - stat(A) on paired samples (same index i in A and B)."""
    na, da, nb, db = [np.asarray(x, dtype=float) for x in (num_a, den_a, num_b, den_b)]
    if not len(na):
        raise ValueError("paired_bootstrap_delta needs at least one pair (n = 0 is 'no data')")
    delta = ratio_stat(nb, db, transform) - ratio_stat(na, da, transform)
    sna, sda, snb, sdb = resampled_sums([na, da, nb, db], n_resamples, seed)
    lo, hi = _percentiles(transform(snb / sdb) - transform(sna / sda), level)
    return delta, lo, hi


def wilson_ci(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion `successes / n` (n >= 1): never collapses to a point
    at 0 or 1, and keeps close to its nominal coverage for small n, where the normal
    approximation and the bootstrap do not."""
    if n < 1:
        raise ValueError("wilson_ci needs n >= 1")
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)  # exact at the ends, no rounding residue
    hi = 1.0 if successes >= n else min(1.0, centre + half)
    return float(lo), float(hi)


def is_pass_fail(num: np.ndarray, den: np.ndarray) -> bool:
    """Whether these units are a rate of pass/fail samples (every den 1, every num 0 or 1)."""
    return bool(len(num)) and bool(np.all(den == 1) and np.all((num == 0) | (num == 1)))


# Below this many pairs the percentile bootstrap of a graded metric's delta is not trusted to
# decide significance: with a handful of pairs it often collapses (every resample moves the same
# way) and its coverage falls well under 95%. The interval is still shown.
MIN_BOOTSTRAP_PAIRS = 10
SIGNIFICANCE_LEVEL = 0.05


def sign_test_p(worse: int, better: int) -> float:
    """Two-sided exact sign test (the exact McNemar test) on the discordant pairs of a paired
    pass/fail comparison: under "no change" each of the n = worse + better flips is as likely one
    way as the other, so P = min(1, 2 * P(Binomial(n, 1/2) <= min(worse, better))). No flip: 1.0.
    One flip gives 1.0, two the same way 0.5; it takes six flips all one way (none back) for P < 0.05."""
    n = worse + better
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(worse, better) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def cohen_kappa(a: list, b: list) -> float | None:
    """Cohen's kappa of two raters' paired labels; None without pairs or when a rater used one label
    only (then kappa is 0 whatever the agreement, or undefined: it says nothing)."""
    n = len(a)
    if n == 0 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return None if p_e >= 1.0 else (p_o - p_e) / (1 - p_e)
