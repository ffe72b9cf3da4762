"""Benchmark: bootstrap CIs on 10,000 samples x 1,000 resamples, harness.stats vs a plain loop.

The vectorised side is what `harness run`, `compare` and `gate` use (harness.stats). The loop
does the same statistics in plain Python: `random.choices` draws each resample, sums are Python
`sum`s, the CI is read off the sorted resampled statistics.

    python bench/bootstrap.py [--n 10000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import math
import random
import time

import numpy as np

from harness.stats import bootstrap_ci, paired_bootstrap_delta


def loop_ci(num: list[float], den: list[float], transform, resamples: int, seed: int) -> tuple[float, float]:
    rnd = random.Random(seed)
    positions = range(len(num))
    stats = []
    for _ in range(resamples):
        idx = rnd.choices(positions, k=len(num))
        stats.append(transform(sum(num[i] for i in idx) / sum(den[i] for i in idx)))
    return _percentile_pair(stats)


def loop_paired_delta(a: tuple[list, list], b: tuple[list, list], transform, resamples: int, seed: int) -> tuple[float, float]:
    rnd = random.Random(seed)
    positions = range(len(a[0]))
    stats = []
    for _ in range(resamples):
        idx = rnd.choices(positions, k=len(a[0]))
        stat_a = transform(sum(a[0][i] for i in idx) / sum(a[1][i] for i in idx))
        stat_b = transform(sum(b[0][i] for i in idx) / sum(b[1][i] for i in idx))
        stats.append(stat_b - stat_a)
    return _percentile_pair(stats)


def _percentile_pair(stats: list[float]) -> tuple[float, float]:
    stats.sort()
    return stats[int(0.025 * (len(stats) - 1))], stats[int(0.975 * (len(stats) - 1))]


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="samples")
    parser.add_argument("--resamples", type=int, default=1_000)
    args = parser.parse_args()
    n, resamples = args.n, args.resamples

    rng = np.random.default_rng(1)
    passed = (rng.random(n) < 0.3).astype(float)  # a pass/fail rate
    tokens = rng.integers(20, 400, n).astype(float)  # perplexity: NLL sum and tokens per sample
    nll_a = tokens * rng.normal(2.0, 0.3, n)
    nll_b = nll_a + tokens * rng.normal(0.01, 0.05, n)
    ones = np.ones(n)

    cases = [
        ("rate CI", lambda: bootstrap_ci(passed, n_resamples=resamples),
         lambda: loop_ci(passed.tolist(), ones.tolist(), lambda x: x, resamples, 0)),
        ("perplexity CI (ratio of sums, exp)", lambda: bootstrap_ci(nll_a, tokens, transform=np.exp, n_resamples=resamples),
         lambda: loop_ci(nll_a.tolist(), tokens.tolist(), math.exp, resamples, 0)),
        ("paired perplexity delta", lambda: paired_bootstrap_delta(nll_a, tokens, nll_b, tokens, transform=np.exp, n_resamples=resamples)[1:],
         lambda: loop_paired_delta((nll_a.tolist(), tokens.tolist()), (nll_b.tolist(), tokens.tolist()), math.exp, resamples, 0)),
    ]
    print(f"{n:,} samples x {resamples:,} resamples")
    for name, vectorised, loop in cases:
        t_vec, ci_vec = timed(vectorised)
        t_loop, ci_loop = timed(loop)
        print(f"{name:36s} harness.stats {t_vec:7.3f} s   python loop {t_loop:7.3f} s   {t_loop / t_vec:6.1f}x   "
              f"CI {ci_vec[0]:.4f}..{ci_vec[1]:.4f} vs {ci_loop[0]:.4f}..{ci_loop[1]:.4f}")


if __name__ == "__main__":
    main()
