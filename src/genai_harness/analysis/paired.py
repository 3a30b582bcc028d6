"""Paired tests of matched rounds: round ``i`` of A against round ``i`` of B, as ``ab`` runs them.

Each takes the rounds' values of both sides and judges the per-round log ratios ``log(current[i] / baseline[i])``:
Wilcoxon's signed-rank test (:func:`paired_test`, a p-value; :func:`paired_rank_test`, with the Hodges-Lehmann
estimate and interval) or Student's t (:func:`paired_log_ratio_test`); and how a rank-tested job is sized
(:func:`rank_min_pairs`, :func:`sizing_spread`). Where the pairs come in two orders that may cost differently (a
session's worker that loaded first or second), :func:`crossover_log_ratio_test` takes the order out. Pure functions
drawn from scipy.stats: no store, no pandas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genai_harness.analysis.statistics import CONFIDENCE


def _paired_logs(baseline: Sequence[float], current: Sequence[float], caller: str) -> np.ndarray:
    """``log(current[i] / baseline[i])`` of the matched pairs whose two values are finite and positive."""
    logs, kept = _kept_paired_logs(baseline, current, caller)
    return logs[kept]


def _kept_paired_logs(baseline: Sequence[float], current: Sequence[float], caller: str) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """(``log(current[i] / baseline[i])`` of every pair, which pairs to keep: both values finite and positive)."""
    if len(baseline) != len(current):
        raise ValueError(f"{caller} needs matched pairs, got {len(baseline)} baseline and {len(current)} "
                         "current values")
    pairs = np.asarray([(math.nan if b is None else b, math.nan if c is None else c)
                        for b, c in zip(baseline, current, strict=True)], dtype=float).reshape(-1, 2)
    kept = np.all(np.isfinite(pairs) & (pairs > 0), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(pairs[:, 1] / pairs[:, 0]), kept


def paired_test(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of ``log(current[i] / baseline[i])`` over matched pairs.

    For interleaved A/B runs (``ab``): pair ``i`` is round ``i``'s A and B, measured in the same minutes,
    so load that moves both sides cancels in their ratio, which an unpaired test cannot use. Pairs with
    a missing or non-positive value are dropped; NaN with fewer than 2 pairs; 1.0 when every ratio is 1.
    Six pairs are the fewest that can reach p < 0.05 (exact test: 2 / 2**6 = 0.031).
    """
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    logs = _paired_logs(baseline, current, "paired_test")
    if len(logs) < 2:
        return math.nan
    if np.all(logs == 0):
        return 1.0
    return float(stats.wilcoxon(logs, alternative="two-sided", zero_method="zsplit").pvalue)


@dataclass(frozen=True)
class PairedRatio:
    """A paired comparison of matched rounds: the ratio current/baseline its test estimates, its interval, a p-value,
    and the round-to-round spread of the log ratios that sizes a job (``sd_log_ratio``)."""

    n: int
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    sd_log_ratio: float
    df: float
    """The degrees of freedom of the spread (pairs - 1; pairs - 2 when the order's effect was estimated too)."""


def paired_log_ratio_test(baseline: Sequence[float], current: Sequence[float], *,
                          confidence: float = CONFIDENCE) -> PairedRatio:
    """Student's t on the per-pair log ratios ``log(current[i] / baseline[i])`` (``scipy.stats.ttest_1samp``).

    For interleaved A/B rounds: pair ``i`` is round ``i`` of each side, measured in the same minutes, so load
    that moves both cancels in the ratio. ``ratio`` is ``exp(mean log ratio)`` (the geometric mean of the
    per-round ratios), ``ci_low``/``ci_high`` its ``confidence`` t-interval, ``p_value`` two-sided, so
    ``p_value < 1 - confidence`` exactly when the interval excludes 1. Log ratios make a slowdown and the
    matching speed-up symmetric, and a multiplicative slowdown (what ``--inject-slowdown`` records) a
    shift. Pairs with a missing or non-positive value are dropped; NaNs with fewer than 2 pairs; when every
    ratio is equal the interval has zero width and ``p_value`` is 1.0 (ratio 1) or 0.0.
    """
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    logs = _paired_logs(baseline, current, "paired_log_ratio_test")
    constant = _constant_pairs(logs)
    if constant is not None:
        return constant
    mean, sd = float(np.mean(logs)), float(np.std(logs, ddof=1))
    result = stats.ttest_1samp(logs, 0.0)
    interval = result.confidence_interval(confidence_level=confidence)
    return PairedRatio(len(logs), math.exp(mean), math.exp(float(interval.low)), math.exp(float(interval.high)),
                       float(result.pvalue), sd, float(len(logs) - 1))


def _constant_pairs(logs: np.ndarray) -> PairedRatio | None:
    """What a paired test says of fewer than 2 pairs (NaNs) or of pairs whose log ratios are all equal (a
    zero-width interval, ``p_value`` 1.0 at ratio 1 and 0.0 elsewhere); None for any other pairs."""
    if len(logs) < 2:
        return PairedRatio(len(logs), *([math.nan] * 6))
    if np.all(logs == logs[0]):
        ratio = math.exp(float(logs[0]))
        return PairedRatio(len(logs), ratio, ratio, ratio, 1.0 if logs[0] == 0.0 else 0.0, 0.0, float(len(logs) - 1))
    return None


def paired_rank_test(baseline: Sequence[float], current: Sequence[float], *,
                     confidence: float = CONFIDENCE) -> PairedRatio:
    """Wilcoxon's signed-rank test on the per-pair log ratios, with the Hodges-Lehmann estimate and interval.

    The rank counterpart of :func:`paired_log_ratio_test`, for rounds whose ratios have heavy tails: on a
    loaded machine a call either gets a core or waits for one, so most rounds' ratios sit near their centre and
    a few lie far out, which inflate a t-test's spread and so its rounds (benchmarks/RESULTS.md, "A rank test
    for ab"). ``ratio`` is ``exp`` of the median of the Walsh averages ``(d_i + d_j) / 2, i <= j`` of the log
    ratios ``d`` (Hodges-Lehmann: a uniform slowdown is a shift, which it estimates); ``ci_low``/``ci_high``
    the shifts the test at ``1 - confidence`` does not reject (``scipy.stats.wilcoxon`` on ``d - shift``,
    inverted between consecutive Walsh averages), so the interval excludes 1 exactly when ``p_value`` (the test
    at 0) is below ``1 - confidence``, zero split. ``sd_log_ratio`` is the spread a t-interval of that width
    would have (``half width / t * sqrt(n)``), which sizes a job the way :func:`paired_rounds_needed` expects,
    or the plain SD where too few pairs bound the interval (fewer than 6 at 95 %: ``ci_low`` 0, ``ci_high``
    inf). Dropped pairs and equal ratios as in :func:`paired_log_ratio_test`.
    """
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    logs = _paired_logs(baseline, current, "paired_rank_test")
    constant = _constant_pairs(logs)
    if constant is not None:
        return constant
    upper = np.triu_indices(len(logs))
    walsh = np.sort((logs[upper[0]] + logs[upper[1]]) / 2.0)
    alpha = 1.0 - confidence

    def accepted(j: int) -> bool:  # does the test keep a shift between Walsh averages j - 1 and j (0-based)?
        low = walsh[j - 1] if j > 0 else walsh[0] - 1.0
        high = walsh[j] if j < len(walsh) else walsh[-1] + 1.0
        return float(stats.wilcoxon(logs - (low + high) / 2.0, zero_method="zsplit").pvalue) >= alpha

    def first_accepted(order: np.ndarray) -> int:  # the test's p-value grows towards the estimate: bisect
        lo, hi = 0, len(order) - 1
        if not accepted(int(order[hi])):
            return -1
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if accepted(int(order[mid])) else (mid + 1, hi)
        return int(order[lo])

    middle = len(walsh) // 2
    left = first_accepted(np.arange(0, middle + 1))
    right = first_accepted(np.arange(len(walsh), middle - 1, -1))
    ci_low = math.exp(float(walsh[left - 1])) if left > 0 else 0.0
    ci_high = math.exp(float(walsh[right])) if 0 <= right < len(walsh) else math.inf
    p_value = float(stats.wilcoxon(logs, zero_method="zsplit").pvalue)
    sd = float(np.std(logs, ddof=1))
    if ci_low > 0.0 and math.isfinite(ci_high):
        sd = (math.log(ci_high) - math.log(ci_low)) / 2.0 / float(stats.t.ppf(1.0 - alpha / 2.0, len(logs) - 1)) \
            * math.sqrt(len(logs))
    return PairedRatio(len(logs), math.exp(float(np.median(walsh))), ci_low, ci_high, p_value, sd,
                       float(len(logs) - 1))


def crossover_log_ratio_test(baseline: Sequence[float], current: Sequence[float], baseline_first: Sequence[bool], *,
                             confidence: float = CONFIDENCE) -> PairedRatio:
    """Student's t on the per-pair log ratios of a two-order (AB/BA) crossover: pair ``i`` ran the baseline first
    where ``baseline_first[i]``, the current side first elsewhere, and going second may cost less (or more).

    With ``d = log(current / baseline)``, a pair in the first order measures ``delta + pi`` and one in the second
    ``delta - pi`` (``pi``: what going second is worth), so the mean of the two orders' means estimates ``delta``
    free of ``pi``, and the spread is pooled within each order, its degrees of freedom pairs - 2: the textbook
    analysis of a 2x2 crossover with its period effect, ``scipy.stats.ttest_ind`` of ``d`` in one order against
    ``-d`` in the other (their mean difference is ``2 delta``). Paired Student's t on the same pairs counts
    ``pi`` as noise: unbiased when the orders alternate, but wider. ``sd_log_ratio`` is the spread a paired
    t-interval of this width would have (``se * sqrt(n)``), which sizes a job as :func:`paired_rounds_needed`
    expects. Fewer than two pairs in either order: :func:`paired_log_ratio_test` (no order can be estimated).
    Dropped pairs as in :func:`paired_log_ratio_test`."""
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    logs, kept = _kept_paired_logs(baseline, current, "crossover_log_ratio_test")
    if len(baseline_first) != len(logs):
        raise ValueError(f"crossover_log_ratio_test needs an order for each pair, got {len(baseline_first)} for "
                         f"{len(logs)} pairs")
    first = np.asarray(baseline_first, dtype=bool)
    one, other = logs[kept & first], logs[kept & ~first]
    if len(one) < 2 or len(other) < 2:
        return paired_log_ratio_test(baseline, current, confidence=confidence)
    n, df = len(one) + len(other), float(len(one) + len(other) - 2)
    delta = (float(np.mean(one)) + float(np.mean(other))) / 2.0
    pooled = math.sqrt(((len(one) - 1) * float(np.var(one, ddof=1)) + (len(other) - 1) * float(np.var(other, ddof=1)))
                       / df)
    se = pooled / 2.0 * math.sqrt(1.0 / len(one) + 1.0 / len(other))
    if pooled == 0.0:  # every pair of an order alike: the estimate has no spread
        ratio = math.exp(delta)
        return PairedRatio(n, ratio, ratio, ratio, 1.0 if delta == 0.0 else 0.0, 0.0, df)
    result = stats.ttest_ind(one, -other, equal_var=True)
    interval = result.confidence_interval(confidence_level=confidence)
    return PairedRatio(n, math.exp(delta), math.exp(float(interval.low) / 2.0), math.exp(float(interval.high) / 2.0),
                       float(result.pvalue), se * math.sqrt(n), df)


def rank_min_pairs(alpha: float) -> int:
    """The fewest pairs at which a two-sided exact signed-rank test can reach ``p < alpha`` (pure): its smallest
    p-value, every ratio on one side, is ``2 / 2**n``."""
    return max(1, math.floor(math.log2(2.0 / alpha)) + 1)


def sizing_spread(baseline: Sequence[float], current: Sequence[float], sd: float, alpha: float) -> float:
    """The spread that sizes a rank-tested row (pure): the larger of ``sd`` (from its 95 % interval) and the one its
    interval at ``1 - alpha``, the level each row is tested at, implies. A signed-rank test on few rounds is coarser
    in its tail than the t model that sizes jobs assumes; replayed jobs sized at 95 % alone caught 94 % of 10 %
    slowdowns (benchmarks/RESULTS.md, "A rank test for ab")."""
    strict = paired_rank_test(baseline, current, confidence=1.0 - alpha).sd_log_ratio
    return max(sd, strict) if math.isfinite(strict) else sd
