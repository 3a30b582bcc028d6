"""How many bootstrap resamples a median's 95 % CI needs: the Monte Carlo spread of its end points.

For sample sizes a cell has (5 repetitions of one run up to 1,250 over a long history) and several
resample counts, the interval is computed under 40 seeds; the spread (standard deviation) of each end
point over the seeds, as a share of the interval's width, is what a reader of two reports of the same
data could see move. Also times one interval (``bootstrap_ci``) beside ``scipy.stats.bootstrap``.

    .venv/bin/python benchmarks/bootstrap_stability.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats

from genai_harness.analysis.statistics import MEDIAN_RESAMPLES, bootstrap_ci

SIZES = (5, 10, 50, 250, 1250)
RESAMPLES = (500, 1000, 2000, 5000, 10000)
SEEDS = 40


def spread(values: np.ndarray, n_resamples: int) -> tuple[float, float]:
    """The larger end point's standard deviation over seeds, as a share of the mean interval width and of
    the median."""
    intervals = np.array([bootstrap_ci(values, n_resamples=n_resamples, seed=s) for s in range(SEEDS)])
    width = float(np.mean(intervals[:, 1] - intervals[:, 0]))
    sd = float(np.max(np.std(intervals, axis=0, ddof=1)))
    return sd / width, sd / float(np.median(values))


def main() -> None:
    rng = np.random.default_rng(7)
    samples = {n: rng.lognormal(1.0, 0.3, n) for n in SIZES}  # latency-like: right-skewed
    print("end-point spread over seeds: % of the CI width / % of the median (rows: resamples; columns: size n)")
    print("resamples " + " ".join(f"{'n=' + str(n):>14}" for n in SIZES))
    for b in RESAMPLES:
        cells = [spread(samples[n], b) for n in SIZES]
        print(f"{b:>9} " + " ".join(f"{100 * w:>6.1f}%/{100 * m:>5.2f}%" for w, m in cells)
              + ("   <- MEDIAN_RESAMPLES" if b == MEDIAN_RESAMPLES else ""))
    print("time of one interval at MEDIAN_RESAMPLES (ms): bootstrap_ci vs scipy.stats.bootstrap")
    for n in SIZES:
        data = samples[n]
        started = time.perf_counter()
        for s in range(20):
            bootstrap_ci(data, seed=1000 + s)  # new seeds: the per-size ranks are drawn each time
        ours = (time.perf_counter() - started) / 20
        started = time.perf_counter()
        stats.bootstrap((data,), np.median, n_resamples=MEDIAN_RESAMPLES, method="percentile", vectorized=True,
                        rng=np.random.default_rng(0))
        theirs = time.perf_counter() - started
        print(f"n={n:>5}: {1e3 * ours:7.2f} ms vs {1e3 * theirs:7.1f} ms")


if __name__ == "__main__":
    main()
