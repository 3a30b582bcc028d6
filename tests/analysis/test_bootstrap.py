"""The median's bootstrap interval drawn from order-statistic ranks: the resampling distribution it claims."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from genai_harness.analysis import statistics as st


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_median_ranks_follow_the_resampling_distribution_exactly(n: int) -> None:
    """Every resample of n indices enumerated: the (lower, upper) middle ranks' frequencies match the draws."""
    exact: Counter[tuple[int, int]] = Counter()
    for combo in itertools.product(range(n), repeat=n):
        ordered = sorted(combo)
        exact[(ordered[(n - 1) // 2], ordered[n // 2])] += 1
    low, high = st._median_ranks(n, 200_000, 1)
    drawn = Counter(zip(low.tolist(), high.tolist(), strict=True))
    assert set(drawn) <= set(exact)
    for key, count in exact.items():
        assert drawn[key] / 200_000 == pytest.approx(count / n**n, abs=0.004)


@pytest.mark.parametrize("n", [10, 11, 200])
def test_interval_agrees_with_scipy_bootstrap(n: int) -> None:
    data = np.random.default_rng(n).lognormal(1.0, 0.3, n)
    ours = st.bootstrap_ci(data)
    theirs = stats.bootstrap((data,), np.median, n_resamples=20_000, method="percentile", vectorized=True,
                             rng=np.random.default_rng(3)).confidence_interval
    width = theirs.high - theirs.low
    assert ours[0] == pytest.approx(theirs.low, abs=0.06 * width)
    assert ours[1] == pytest.approx(theirs.high, abs=0.06 * width)


def test_interval_is_seeded_and_handles_edges() -> None:
    data = [3.0, 1.0, 2.0, 5.0, 4.0, 9.0]
    assert st.bootstrap_ci(data) == st.bootstrap_ci(list(reversed(data)))
    low, high = st.bootstrap_ci(data, confidence=0.5)
    wide = st.bootstrap_ci(data, confidence=0.99)
    assert wide[0] <= low <= st.median(data) <= high <= wide[1]
    assert all(math.isnan(v) for v in st.bootstrap_ci([1.0, math.nan]))
    assert st.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    ranks = st._median_ranks(7, 100, 0)[0]
    with pytest.raises(ValueError):
        ranks[0] = 1  # shared between samples of one size: read-only


def test_geometric_mean_is_scipy_gmean_of_the_positive_values() -> None:
    data = np.random.default_rng(2).lognormal(0.0, 1.0, 50)
    assert st.geometric_mean(data) == pytest.approx(stats.gmean(data), rel=1e-12)
    assert st.geometric_mean([2.0, 8.0, 0.0, -1.0, math.nan]) == pytest.approx(4.0)
    assert math.isnan(st.geometric_mean([0.0, -2.0]))
