"""The paired rank test and the rounds-needed planning figure (results.statistics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from genai_harness.results.statistics import paired_test, rounds_needed


def test_paired_test_sees_a_shift_that_load_hides_from_an_unpaired_test() -> None:
    rng = np.random.default_rng(7)
    load = rng.lognormal(0.0, 0.3, 10)  # shared by A and B of one round
    a = 1.0 * load * rng.lognormal(0.0, 0.01, 10)
    b = 1.1 * load * rng.lognormal(0.0, 0.01, 10)
    assert paired_test(a.tolist(), b.tolist()) < 0.01
    assert stats.mannwhitneyu(a, b).pvalue > 0.05  # the same data, unpaired: nothing
    assert paired_test(b.tolist(), a.tolist()) == pytest.approx(paired_test(a.tolist(), b.tolist()))


def test_paired_test_needs_six_pairs_for_significance_and_drops_bad_pairs() -> None:
    base = [1.0, 1.0, 1.0, 1.0, 1.0]
    assert paired_test(base, [2.0] * 5) == pytest.approx(0.0625)  # exact minimum for five pairs
    assert paired_test([*base, 1.0], [2.0] * 6) == pytest.approx(0.03125)
    assert paired_test([1.0, 1.0, None, 0.0], [2.0, 2.0, 3.0, 3.0]) == pytest.approx(0.5)
    assert math.isnan(paired_test([1.0], [2.0]))
    assert paired_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    with pytest.raises(ValueError, match="matched pairs"):
        paired_test([1.0, 2.0], [1.0])


def test_rounds_needed_follows_the_normal_approximation() -> None:
    # (z_0.995 + z_0.95) * 0.18 / ln 1.10 = (2.576 + 1.645) * 0.18 / 0.0953 -> 63.5 -> 64
    assert rounds_needed(0.18, 1.10) == 64
    assert rounds_needed(0.18, 1.05) == 243  # (ln 1.10 / ln 1.05)**2 = 3.8 times as many
    assert rounds_needed(0.0, 1.10) == 1
    assert rounds_needed(0.18, 1.10, alpha=0.05, power=0.8) < rounds_needed(0.18, 1.10)
    with pytest.raises(ValueError, match="slowdown > 1"):
        rounds_needed(0.18, 1.0)
