"""Statistics as pure functions: medians, percentiles, bootstrap intervals, a rank test.

Drawn from numpy and scipy.stats (``bootstrap``, ``mannwhitneyu``) rather than written again. Every
function takes plain sequences of numbers and returns numbers: no store, no pandas, no clock.
Resampling is seeded, so the same data always gives the same interval.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

CONFIDENCE = 0.95
"""Confidence level of every interval the harness reports."""
N_RESAMPLES = 2000
"""Bootstrap resamples; 2,000 keeps a 95 % percentile interval's end points stable to about 1 %."""
MEDIAN_RESAMPLES = 10_000
"""Resamples of :func:`bootstrap_ci` (the median's interval). Its cost does not grow with the sample, so it
draws more: over 40 seeds an end point moves by at most 3.3 % of the interval's width (under 1 % of the
median) at 10,000, against 5.3 % at 2,000, for samples of 5 to 1,250 latency-like values
(``benchmarks/bootstrap_stability.py``)."""
SEED = 20261128
"""Seed of every resampling, so an interval is a pure function of the data."""


def _clean(values: Sequence[float]) -> np.ndarray:
    array = np.asarray([v for v in values if v is not None], dtype=float)
    return array[np.isfinite(array)]


def median(values: Sequence[float]) -> float:
    """The median of the finite values (NaN when there are none)."""
    data = _clean(values)
    return float(np.median(data)) if data.size else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The linear-interpolated ``q``-th percentile (0..100) of the finite values (NaN when none)."""
    data = _clean(values)
    return float(np.percentile(data, q)) if data.size else math.nan


@functools.lru_cache(maxsize=256)
def _median_ranks(n: int, n_resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``n_resamples`` bootstrap resamples of ``n`` sorted values: the 0-based ranks of the (two) middle
    values of each resample, whose mean is the resample's median.

    Resampling ``n`` of ``n`` sorted values with replacement is drawing ``n`` uniform indices, and the
    k-th smallest index is ``floor(n * U_(k))`` with ``U_(k)`` the k-th order statistic of ``n`` uniforms,
    ``Beta(k, n - k + 1)``; the next one is ``U_(k) + (1 - U_(k)) * Beta(1, n - k)``. So the resampled
    medians' ranks need ``O(n_resamples)`` draws, not ``n_resamples x n``, and depend on ``n`` only:
    they are drawn once per sample size and shared by every sample of that size (read-only arrays).
    """
    rng = np.random.default_rng(seed)
    k = (n + 1) // 2  # 1-based rank of the lower middle value
    lower = rng.beta(k, n - k + 1, n_resamples)
    upper = lower if n % 2 else lower + (1.0 - lower) * rng.beta(1, n - k, n_resamples)
    low_rank = np.minimum((n * lower).astype(np.int64), n - 1)
    high_rank = np.minimum((n * upper).astype(np.int64), n - 1)
    low_rank.setflags(write=False)
    high_rank.setflags(write=False)
    return low_rank, high_rank


def bootstrap_ci(values: Sequence[float], *, confidence: float = CONFIDENCE, n_resamples: int = MEDIAN_RESAMPLES,
                 seed: int = SEED) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median; ``(nan, nan)`` with fewer than 2 values.

    All-equal values give a zero-width interval at that value. The resampled medians are read off the
    sorted values at ranks drawn once per sample size (:func:`_median_ranks`): the same distribution as
    resampling the values themselves (as ``scipy.stats.bootstrap`` does), at ``O(n log n + n_resamples)``
    a sample, so a report's hundreds of cells of a thousand values each cost milliseconds.
    """
    data = _clean(values)
    if data.size < 2:
        return (math.nan, math.nan)
    if np.all(data == data[0]):
        return (float(data[0]), float(data[0]))
    ordered = np.sort(data)
    low_rank, high_rank = _median_ranks(int(ordered.size), n_resamples, seed)
    medians = (ordered[low_rank] + ordered[high_rank]) / 2.0
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(medians, [tail, 100.0 - tail])
    return (float(low), float(high))


def ratio_of_medians(baseline: Sequence[float], current: Sequence[float]) -> float:
    """median(current) / median(baseline); NaN when either side has no finite value or the baseline is 0."""
    base, cur = median(baseline), median(current)
    if math.isnan(base) or math.isnan(cur) or base == 0:
        return math.nan
    return cur / base


def ratio_ci(baseline: Sequence[float], current: Sequence[float], *, confidence: float = CONFIDENCE,
             n_resamples: int = N_RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """Bootstrap confidence interval of :func:`ratio_of_medians`, each side resampled on its own.

    ``(nan, nan)`` when either side has fewer than 2 finite values.
    """
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    base, cur = _clean(baseline), _clean(current)
    if base.size < 2 or cur.size < 2 or np.median(base) == 0:
        return (math.nan, math.nan)

    def statistic(b: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        denominator = np.median(b, axis=axis)
        return np.median(c, axis=axis) / np.where(denominator == 0, np.nan, denominator)

    if np.all(base == base[0]) and np.all(cur == cur[0]):
        value = float(cur[0] / base[0])
        return (value, value)
    result = stats.bootstrap((base, cur), statistic, confidence_level=confidence, n_resamples=n_resamples,
                             method="percentile", vectorized=True, paired=False,
                             rng=np.random.default_rng(seed))
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def rank_test(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U test p-value that the two samples come from one distribution.

    NaN with fewer than 2 finite values on a side; 1.0 when every value on both sides is equal.
    """
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    base, cur = _clean(baseline), _clean(current)
    if base.size < 2 or cur.size < 2:
        return math.nan
    if np.all(base == base[0]) and np.all(cur == base[0]):
        return 1.0
    return float(stats.mannwhitneyu(base, cur, alternative="two-sided").pvalue)


def geometric_mean(values: Sequence[float]) -> float:
    """Geometric mean of the positive finite values (NaN when there are none): the summary score's mean.

    ``exp(mean(log(x)))``, what ``scipy.stats.gmean`` computes, in numpy: importing ``scipy.stats`` costs a
    report that needs nothing else of it 1-5 s (measured on this machine, loaded)."""
    data = _clean(values)
    data = data[data > 0]
    return float(np.exp(np.mean(np.log(data)))) if data.size else math.nan


@dataclass(frozen=True)
class Summary:
    """The statistics of one cell's metric: count, median, tail percentiles and the median's CI."""

    n: int
    median: float
    p90: float
    p99: float
    mean: float
    std: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for DataFrames and JSON)."""
        return asdict(self)


def summarize(values: Sequence[float], *, confidence: float = CONFIDENCE) -> Summary:
    """Count, median, p90, p99, mean, sample standard deviation and the median's bootstrap CI."""
    data = _clean(values)
    if not data.size:
        return Summary(0, *([math.nan] * 7))
    low, high = bootstrap_ci(data, confidence=confidence)
    std = float(np.std(data, ddof=1)) if data.size > 1 else math.nan
    return Summary(int(data.size), float(np.median(data)), float(np.percentile(data, 90)),
                   float(np.percentile(data, 99)), float(np.mean(data)), std, low, high)


def rounds_needed(sd_log_ratio: float, slowdown: float, *, alpha: float = 0.01, power: float = 0.95) -> int:
    """Pairs (A/B rounds, or runs a side) needed to detect ``slowdown`` with a two-sided test at ``alpha``.

    Normal approximation: ``n = ((z[1 - alpha/2] + z[power]) * sd / log(slowdown))**2``, rounded up, where
    ``sd_log_ratio`` is the measured standard deviation of one pair's log ratio (A/A data). A planning
    figure for choosing repetitions from measured noise, not a guarantee: a rank test needs a few more.
    """
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    if not (sd_log_ratio >= 0 and slowdown > 1 and 0 < alpha < 1 and 0 < power < 1):
        raise ValueError("rounds_needed needs sd_log_ratio >= 0, slowdown > 1, 0 < alpha < 1 and 0 < power < 1; "
                         f"got {sd_log_ratio}, {slowdown}, {alpha}, {power}")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return max(1, math.ceil((z * sd_log_ratio / math.log(slowdown)) ** 2))


def detectable_slowdown(sd_log_ratio: float, n_pairs: int, *, alpha: float, threshold: float = 1.0,
                        power: float = 0.95) -> float:
    """The smallest slowdown a paired gate on ``n_pairs`` rounds catches with probability ``power``.

    The gate (see :func:`paired_log_ratio_test`) calls a regression when the mean log ratio clears both
    ``log(threshold)`` and the two-sided t critical value at ``alpha``; a true slowdown is caught ``power``
    of the time when it lies ``z[power]`` standard errors above that bar (normal approximation of the mean):
    ``exp(max(log threshold, t[1 - alpha/2, n - 1] * se) + z[power] * se)``, ``se = sd / sqrt(n)``. NaN with
    fewer than 2 pairs or a NaN spread. What a job's own noise lets it see, and so whether it needs more rounds.
    """
    if n_pairs < 2 or not math.isfinite(sd_log_ratio):
        return math.nan
    return detectable_shift(sd_log_ratio / math.sqrt(n_pairs), n_pairs - 1, alpha=alpha, threshold=threshold,
                            power=power)


def detectable_shift(se: float, df: int, *, alpha: float, threshold: float = 1.0, power: float = 0.95) -> float:
    """The smallest factor a t-test on log values with standard error ``se`` and ``df`` degrees of freedom
    calls a regression with probability ``power`` (pure; see :func:`detectable_slowdown`): NaN when
    ``df < 1`` or ``se`` is not finite."""
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    if df < 1 or not math.isfinite(se):
        return math.nan
    bar = max(math.log(threshold), float(stats.t.ppf(1 - alpha / 2, df)) * se)
    return math.exp(bar + float(stats.norm.ppf(power)) * se)


def holm_adjust(p_values: Sequence[float], hypotheses: Sequence[Hashable] | None = None) -> list[float]:
    """Holm's step-down adjusted p-values (pure): rejecting every test whose adjusted p-value is below alpha
    keeps the chance of any false rejection in the family at most alpha, whatever their dependence (Holm
    1979). NaNs stay NaN and are not counted in the family.

    ``hypotheses`` names what each test tests: tests that name the same one (a rate and the latency it is the
    reciprocal of) count once in the family, with the largest p-value among them, and share its adjusted value."""
    if hypotheses is not None:
        largest: dict[Hashable, float] = {}
        for name, p in zip(hypotheses, p_values, strict=True):
            if math.isfinite(p):
                largest[name] = max(p, largest.get(name, p))
        adjusted = dict(zip(largest, holm_adjust(list(largest.values())), strict=True))
        return [adjusted[name] if math.isfinite(p) else math.nan for name, p in zip(hypotheses, p_values, strict=True)]
    values = np.asarray(p_values, dtype=float)
    out = np.full(values.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    order = finite[np.argsort(values[finite], kind="stable")]
    m = len(order)
    stepped = np.maximum.accumulate((m - np.arange(m)) * values[order]) if m else np.zeros(0)
    out[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in out]


@dataclass(frozen=True)
class RunsRatio:
    """:func:`runs_log_t_test`'s answer: runs a side, the ratio of geometric means, the p-value, the spread
    of one run's log value and the standard error of the difference of the two means."""

    n_baseline: int
    n_current: int
    ratio: float
    p_value: float
    sd_log_run: float
    se: float

    @property
    def df(self) -> int:
        """Degrees of freedom of the pooled variance."""
        return self.n_baseline + self.n_current - 2


def runs_log_t_test(baseline: Sequence[float], current: Sequence[float]) -> RunsRatio:
    """Student's two-sample t-test (pooled variance) on the logs of one value per run (pure).

    For separate runs: each value is one worker process's median, so the spread between them is the
    between-process noise, which repetitions inside one process cannot show. The pooled variance lets a
    single current run be judged against a baseline of several (a history), with ``df = n_b + n_c - 2``;
    a side of one run adds no spread. NaNs when ``df < 1`` (one run a side: the noise between runs is
    unknown) or the values are not positive. ``ratio`` is ``exp(mean log current - mean log baseline)``.
    """
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    base, cur = _clean(baseline), _clean(current)
    base, cur = np.log(base[base > 0]), np.log(cur[cur > 0])
    nb, nc = int(base.size), int(cur.size)
    if not nb or not nc or nb + nc < 3:
        return RunsRatio(nb, nc, math.nan, math.nan, math.nan, math.nan)
    diff = float(np.mean(cur) - np.mean(base))
    squares = float(np.sum((base - base.mean()) ** 2) + np.sum((cur - cur.mean()) ** 2))
    sd = math.sqrt(squares / (nb + nc - 2))
    se = sd * math.sqrt(1 / nb + 1 / nc)
    if se == 0.0:
        return RunsRatio(nb, nc, math.exp(diff), 1.0 if diff == 0.0 else 0.0, sd, se)
    p_value = float(2 * stats.t.sf(abs(diff / se), nb + nc - 2))
    return RunsRatio(nb, nc, math.exp(diff), p_value, sd, se)


def paired_rounds_needed(sd_log_ratio: float, slowdown: float, *, alpha: float, threshold: float = 1.0,
                         power: float = 0.95, limit: int = 1_000_000) -> float:
    """The fewest rounds at which :func:`detectable_slowdown` reaches ``slowdown`` (pure): the same model as
    what a job says it can see, so the two never contradict each other. ``inf`` when no round count does
    (a threshold at or above ``slowdown``, or more than ``limit`` rounds)."""
    if not (sd_log_ratio >= 0 and slowdown > 1):
        raise ValueError(f"paired_rounds_needed needs sd_log_ratio >= 0 and slowdown > 1; got {sd_log_ratio}, "
                         f"{slowdown}")
    if threshold >= slowdown:
        return math.inf
    n = max(2, rounds_needed(sd_log_ratio, slowdown, alpha=alpha, power=power))  # a lower bound: z < t
    while detectable_slowdown(sd_log_ratio, n, alpha=alpha, threshold=threshold, power=power) > slowdown:
        n = n + max(1, n // 20)
        if n > limit:
            return math.inf
    while n > 2 and detectable_slowdown(sd_log_ratio, n - 1, alpha=alpha, threshold=threshold,
                                        power=power) <= slowdown:
        n -= 1
    return float(n)


ROUND_ESTIMATORS = ("best", "median", "p10", "p25", "trimmed")
"""Per-round estimators a paired gate can reduce each round's repetitions with (:func:`round_estimate`)."""
TRIM_PROPORTION = 0.2
"""What :func:`round_estimate`'s ``trimmed`` cuts from each end (``scipy.stats.trim_mean``)."""


def round_estimate(values: Sequence[float], estimator: str = "best", *, lower_is_better: bool = True) -> float:
    """One number for one round's (one worker call's) repetitions of a metric; NaN when none is finite.

    ``best``: the fastest repetition, i.e. the minimum of a lower-is-better metric (a latency) and the maximum
    of a higher-is-better one (a rate, whose best is its largest). Noise from a shared machine only ever adds
    time, so the best repetition is the one least touched by it (Chen & Revels 2016, "Robust benchmarking in
    noisy environments"; pytest-benchmark and timeit report it too). ``median``: the middle repetition.
    ``p10``/``p25``: the 10th/25th percentile from the good end. ``trimmed``: the mean without the
    ``TRIM_PROPORTION`` largest and smallest. Every one is scale-equivariant: multiplying each repetition by
    a factor multiplies the estimate by it, so a uniform slowdown is a shift of the log ratio whichever is used.
    """
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    if estimator not in ROUND_ESTIMATORS:
        raise ValueError(f"round estimator must be one of {', '.join(ROUND_ESTIMATORS)}, got {estimator!r}")
    data = _clean(values)
    if not data.size:
        return math.nan
    if estimator == "median":
        return float(np.median(data))
    if estimator == "trimmed":
        return float(stats.trim_mean(data, TRIM_PROPORTION))
    good_end = {"best": 0.0, "p10": 10.0, "p25": 25.0}[estimator]
    return float(np.percentile(data, good_end if lower_is_better else 100.0 - good_end))
