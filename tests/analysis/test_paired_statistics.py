"""The paired tests (rank test, t on log ratios) and the rounds-needed planning figure (results.statistics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from genai_harness.analysis.paired import (
    crossover_log_ratio_test,
    paired_log_ratio_test,
    paired_rank_test,
    paired_test,
)
from genai_harness.analysis.statistics import detectable_slowdown, rounds_needed


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


def test_rounds_needed_by_the_paired_gate_agree_with_what_it_says_it_can_see() -> None:
    from genai_harness.analysis.statistics import detectable_slowdown, paired_rounds_needed

    for sd in (0.02, 0.1, 0.25):
        n = paired_rounds_needed(sd, 1.10, alpha=0.01, threshold=1.05)
        assert detectable_slowdown(sd, int(n), alpha=0.01, threshold=1.05) <= 1.10
        if n > 2:
            assert detectable_slowdown(sd, int(n) - 1, alpha=0.01, threshold=1.05) > 1.10
        assert n >= rounds_needed(sd, 1.10)  # the t correction and the threshold only add rounds
    assert paired_rounds_needed(0.1, 1.10, alpha=0.01, threshold=1.10) == float("inf")
    assert rounds_needed(0.18, 1.10, alpha=0.05, power=0.8) < rounds_needed(0.18, 1.10)
    with pytest.raises(ValueError, match="slowdown > 1"):
        rounds_needed(0.18, 1.0)


def test_paired_log_ratio_test_is_students_t_on_the_log_ratios_by_hand() -> None:
    # log ratios ln(1.1), ln(1.2), ln(1.0), ln(1.15): mean 0.10435, sd 0.07811, se 0.03906, t = 2.6718 on 3 df
    result = paired_log_ratio_test([1.0, 2.0, 4.0, 0.5], [1.1, 2.4, 4.0, 0.575])
    logs = np.log([1.1, 1.2, 1.0, 1.15])
    assert result.n == 4
    assert result.ratio == pytest.approx(math.exp(logs.mean()))
    assert result.sd_log_ratio == pytest.approx(0.078111, abs=1e-6)
    t = logs.mean() / (logs.std(ddof=1) / 2.0)
    assert t == pytest.approx(2.6718, abs=1e-4)
    assert result.p_value == pytest.approx(2 * stats.t.sf(t, 3))  # 0.0756: 4 rounds, not significant at 0.05
    half = stats.t.ppf(0.975, 3) * logs.std(ddof=1) / 2.0
    assert (result.ci_low, result.ci_high) == pytest.approx((math.exp(logs.mean() - half),
                                                             math.exp(logs.mean() + half)))
    assert result.ci_low < 1.0 < result.ci_high  # the interval and the p-value say the same at 95 %


def test_paired_log_ratio_test_cancels_the_load_a_round_shares() -> None:
    rng = np.random.default_rng(11)
    load = rng.lognormal(0.0, 0.3, 20)  # each round's level, shared by its A and its B
    a = load * rng.lognormal(0.0, 0.03, 20)
    b = 1.10 * load * rng.lognormal(0.0, 0.03, 20)
    result = paired_log_ratio_test(a.tolist(), b.tolist())
    assert result.p_value < 1e-6 and 1.05 < result.ci_low < 1.10 < result.ci_high < 1.15
    assert stats.mannwhitneyu(a, b).pvalue > 0.05  # unpaired, the same data shows nothing
    swapped = paired_log_ratio_test(b.tolist(), a.tolist())  # a speed-up is the mirror image
    assert swapped.ratio == pytest.approx(1 / result.ratio) and swapped.p_value == pytest.approx(result.p_value)


def test_paired_log_ratio_test_edges() -> None:
    assert paired_log_ratio_test([1.0, 2.0], [1.0, 2.0]) == paired_log_ratio_test([3.0, 3.0], [3.0, 3.0])
    same = paired_log_ratio_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (same.ratio, same.ci_low, same.ci_high, same.p_value) == (1.0, 1.0, 1.0, 1.0)
    doubled = paired_log_ratio_test([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert (doubled.ratio, doubled.p_value) == (pytest.approx(2.0), 0.0)
    dropped = paired_log_ratio_test([1.0, None, 0.0, 2.0, 1.0], [1.2, 5.0, 3.0, 2.2, math.nan])
    assert dropped.n == 2
    short = paired_log_ratio_test([1.0], [2.0])
    assert short.n == 1 and math.isnan(short.ratio) and math.isnan(short.p_value)
    with pytest.raises(ValueError, match="matched pairs"):
        paired_log_ratio_test([1.0, 2.0], [1.0])


def test_crossover_test_is_the_two_order_t_test_by_hand() -> None:
    # baseline first: log ratios ln 0.9, ln 0.95, ln 0.85 (going second, B is cheaper); B first: ln 1.1, ln 1.05
    ratios, first = [0.9, 1.1, 0.95, 1.05, 0.85], [True, False, True, False, True]
    result = crossover_log_ratio_test([1.0] * 5, ratios, first)
    one, other = np.log([0.9, 0.95, 0.85]), np.log([1.1, 1.05])
    delta = (one.mean() + other.mean()) / 2  # each order's mean holds +pi or -pi: their mean is free of it
    pooled = math.sqrt((2 * one.var(ddof=1) + 1 * other.var(ddof=1)) / 3)
    se = pooled / 2 * math.sqrt(1 / 3 + 1 / 2)
    assert (result.n, result.df) == (5, 3.0)
    assert result.ratio == pytest.approx(math.exp(delta))
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(delta / se), 3))
    half = stats.t.ppf(0.975, 3) * se
    assert (result.ci_low, result.ci_high) == pytest.approx((math.exp(delta - half), math.exp(delta + half)))
    assert result.sd_log_ratio == pytest.approx(se * math.sqrt(5))  # what a paired interval this wide would need
    plain = paired_log_ratio_test([1.0] * 5, ratios)  # the order counted as noise: the same pairs, a wider interval
    assert math.log(result.ci_high / result.ci_low) < 0.6 * math.log(plain.ci_high / plain.ci_low)


def test_crossover_test_takes_out_an_order_effect_the_paired_test_counts_as_noise() -> None:
    rng = np.random.default_rng(5)
    first = [i % 2 == 0 for i in range(12)]
    order = np.where(first, -0.10, 0.10)  # going second is 10 % cheaper; A goes first in even pairs
    a = rng.lognormal(0.0, 0.2, 12)  # each pair's level, shared by its two sides
    b = 1.05 * a * np.exp(order + rng.normal(0.0, 0.02, 12))
    crossed = crossover_log_ratio_test(a.tolist(), b.tolist(), first)
    plain = paired_log_ratio_test(a.tolist(), b.tolist())
    assert 1.02 < crossed.ci_low < 1.05 < crossed.ci_high < 1.08 and crossed.p_value < 1e-4
    assert plain.ci_low < 1.0 and plain.p_value > 0.05  # the same 5 %: hidden by the order's spread
    assert crossed.sd_log_ratio < plain.sd_log_ratio / 3


def test_crossover_test_edges() -> None:
    # an order with fewer than two pairs: no order effect can be estimated, Student's t on the pairs
    assert crossover_log_ratio_test([1.0, 1.0, 1.0], [1.1, 1.2, 1.0], [True, True, False]) == paired_log_ratio_test(
        [1.0, 1.0, 1.0], [1.1, 1.2, 1.0])
    # a dropped pair takes its order with it
    dropped = crossover_log_ratio_test([1.0, None, 1.0, 1.0, 1.0], [0.5, 2.0, 2.0, 0.5, 2.0],
                                       [True, False, False, True, False])
    assert (dropped.n, dropped.df, dropped.ratio, dropped.p_value) == (4, 2.0, pytest.approx(1.0), 1.0)
    assert (dropped.ci_low, dropped.ci_high) == (pytest.approx(1.0), pytest.approx(1.0))  # no spread in either order
    shifted = crossover_log_ratio_test([1.0] * 4, [1.2, 1.0, 1.2, 1.0], [True, False, True, False])
    assert (shifted.ratio, shifted.p_value) == (pytest.approx(math.sqrt(1.2)), 0.0)
    with pytest.raises(ValueError, match="an order for each pair"):
        crossover_log_ratio_test([1.0, 2.0], [1.0, 2.0], [True])


def test_detectable_slowdown_is_the_bar_plus_the_power_margin() -> None:
    # 20 pairs at sd 0.10: se 0.02236; bar max(ln 1.05 = 0.04879, t[0.995, 19] 2.8609 * se = 0.06397) + 1.645 se
    se = 0.10 / math.sqrt(20)
    expected = math.exp(stats.t.ppf(0.995, 19) * se + stats.norm.ppf(0.95) * se)
    assert detectable_slowdown(0.10, 20, alpha=0.01, threshold=1.05) == pytest.approx(expected)
    assert expected == pytest.approx(1.1060, abs=1e-4)  # 20 rounds at this spread just miss a 10 % slowdown
    quiet = detectable_slowdown(0.01, 20, alpha=0.01, threshold=1.05)  # tiny spread: the factor is the bar
    assert quiet == pytest.approx(1.05 * math.exp(stats.norm.ppf(0.95) * 0.01 / math.sqrt(20)))
    assert detectable_slowdown(0.10, 80, alpha=0.01) < detectable_slowdown(0.10, 20, alpha=0.01)
    assert math.isnan(detectable_slowdown(0.10, 1, alpha=0.01))
    assert math.isnan(detectable_slowdown(math.nan, 9, alpha=0.01))


def test_round_estimate_takes_the_good_end_of_each_metric_on_a_fixed_round() -> None:
    from genai_harness.analysis.statistics import ROUND_ESTIMATORS, round_estimate

    round_ = [5.0, 1.0, 9.0, 2.0, 3.0, 4.0, 8.0, 6.0, 7.0, 10.0, None, math.nan]  # 1..10 and two non-values
    assert round_estimate(round_) == 1.0  # default: the best repetition, a latency's minimum
    assert round_estimate(round_, "best", lower_is_better=False) == 10.0  # a rate's best is its maximum
    assert round_estimate(round_, "median") == 5.5
    assert round_estimate(round_, "p10") == pytest.approx(1.9)  # numpy's linear percentile of 1..10
    assert round_estimate(round_, "p10", lower_is_better=False) == pytest.approx(9.1)
    assert round_estimate(round_, "p25") == pytest.approx(3.25)
    assert round_estimate(round_, "trimmed") == 5.5  # 2..9 once the two largest and two smallest are cut
    assert round_estimate([1.0, 1.0, 1.0, 1.0, 100.0], "trimmed") == 1.0
    for estimator in ROUND_ESTIMATORS:  # a uniform slowdown scales every estimate by exactly its factor
        stretched = [v * 1.1 for v in round_[:10]]
        assert round_estimate(stretched, estimator) == pytest.approx(1.1 * round_estimate(round_, estimator))
        assert math.isnan(round_estimate([None, math.nan], estimator))
    with pytest.raises(ValueError, match="round estimator must be one of best, median"):
        round_estimate(round_, "mean")


def test_runs_log_t_test_is_students_pooled_t_on_the_logs_by_hand() -> None:
    from genai_harness.analysis.statistics import runs_log_t_test

    base, cur = [10.0, 11.0, 9.5, 10.4], [12.0, 13.1]
    test = runs_log_t_test(base, cur)
    expected = stats.ttest_ind(np.log(cur), np.log(base), equal_var=True)
    assert test.p_value == pytest.approx(expected.pvalue) and test.df == 4
    assert test.ratio == pytest.approx(math.exp(np.mean(np.log(cur)) - np.mean(np.log(base))))
    one = runs_log_t_test(base, [13.0])  # one run against a history: the history's spread decides
    sd = float(np.std(np.log(base), ddof=1))
    assert one.sd_log_run == pytest.approx(sd) and one.se == pytest.approx(sd * math.sqrt(1 / 4 + 1))
    assert one.p_value == pytest.approx(2 * stats.t.sf(abs(math.log(13.0) - np.mean(np.log(base))) / one.se, 3))
    alone = runs_log_t_test([10.0], [20.0])  # one run a side: the noise between runs is unknown
    assert math.isnan(alone.p_value) and alone.df == 0
    assert runs_log_t_test([1.0, 1.0], [1.0]).p_value == 1.0 and runs_log_t_test([1.0, 1.0], [2.0]).p_value == 0.0


def test_detectable_shift_is_the_paired_model_with_any_standard_error() -> None:
    from genai_harness.analysis.statistics import detectable_shift

    assert detectable_shift(0.1 / math.sqrt(10), 9, alpha=0.01, threshold=1.05) == pytest.approx(
        detectable_slowdown(0.1, 10, alpha=0.01, threshold=1.05))
    se = 0.1 * math.sqrt(1 / 15 + 1 / 3)
    expected = math.exp(stats.t.ppf(0.975, 16) * se + stats.norm.ppf(0.95) * se)
    assert detectable_shift(se, 16, alpha=0.05, threshold=1.10) == pytest.approx(expected)
    assert math.isnan(detectable_shift(0.1, 0, alpha=0.05)) and math.isnan(detectable_shift(math.nan, 5, alpha=0.05))


def test_holm_adjust_by_hand() -> None:
    from genai_harness.analysis.statistics import holm_adjust

    adjusted = holm_adjust([0.01, 0.04, 0.03, math.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adjusted[3])  # NaN: not in the family
    assert holm_adjust([0.5, 0.9]) == [1.0, 1.0] and holm_adjust([]) == [] and holm_adjust([0.02]) == [0.02]


def test_holm_counts_tests_of_one_hypothesis_once() -> None:
    from genai_harness.analysis.statistics import holm_adjust

    # a latency (0.01) and its rate (0.012) test one hypothesis: a family of two, at the larger p-value
    grouped = holm_adjust([0.01, 0.012, 0.03, math.nan], ["tpot", "tpot", "ttft", "load"])
    assert grouped[:3] == pytest.approx([0.024, 0.024, 0.03]) and math.isnan(grouped[3])
    assert holm_adjust([0.01, 0.012, 0.03]) == pytest.approx([0.03, 0.03, 0.03])  # counted as three: dearer
    assert holm_adjust([0.01, 0.04], ["x", "y"]) == holm_adjust([0.01, 0.04])


def _exact_signed_rank_interval(logs: np.ndarray, confidence: float) -> tuple[float, float]:
    """The Hodges-Lehmann interval from first principles: the exact null distribution of the signed-rank sum T+
    by enumerating every sign pattern, its lower critical count k, and the k-th Walsh averages from each end."""
    n = len(logs)
    ranks = np.arange(1, n + 1)
    patterns = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
    null = np.sort(patterns @ ranks)
    alpha = 1.0 - confidence
    k = max(t for t in range(len(null)) if np.mean(null <= t - 1) <= alpha / 2)  # P(T+ <= k - 1) <= alpha / 2
    walsh = np.sort([(logs[i] + logs[j]) / 2 for i in range(n) for j in range(i, n)])
    return float(np.exp(walsh[k - 1])), float(np.exp(walsh[len(walsh) - k]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rank_interval_is_the_exact_hodges_lehmann_interval(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.2, 12)
    b = a * rng.lognormal(0.05, 0.05, 12)
    test = paired_rank_test(a.tolist(), b.tolist())
    logs = np.log(b / a)
    low, high = _exact_signed_rank_interval(logs, 0.95)
    assert (test.ci_low, test.ci_high) == (pytest.approx(low), pytest.approx(high))
    walsh = [(logs[i] + logs[j]) / 2 for i in range(12) for j in range(i, 12)]
    assert test.ratio == pytest.approx(math.exp(float(np.median(walsh))))
    assert test.p_value == pytest.approx(stats.wilcoxon(logs).pvalue)


def test_rank_interval_excludes_one_exactly_when_the_test_rejects() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(6, 40))
        a = rng.lognormal(0.0, 0.1, n)
        b = a * rng.lognormal(float(rng.normal(0.0, 0.03)), 0.06, n)
        test = paired_rank_test(a.tolist(), b.tolist())
        assert (test.p_value < 0.05) == (test.ci_low > 1.0 or test.ci_high < 1.0), (n, test)
        assert test.ci_low <= test.ratio <= test.ci_high


def test_rank_interval_follows_the_centre_where_a_few_rounds_lie_far_out() -> None:
    """A loaded machine: most rounds' ratios near their centre, a fifth of them a core's wait away either way."""
    rng = np.random.default_rng(5)
    n = 60
    centre = rng.normal(np.log(1.10), 0.03, n)
    far = rng.random(n) < 0.2
    logs = np.where(far, centre + rng.choice([-0.6, 0.6], n), centre)
    a = np.ones(n)
    rank, t = paired_rank_test(a.tolist(), np.exp(logs).tolist()), paired_log_ratio_test(a.tolist(),
                                                                                          np.exp(logs).tolist())
    assert rank.ci_high / rank.ci_low < (t.ci_high / t.ci_low) ** 0.5  # far narrower
    assert rank.ci_low > 1.05 and rank.p_value < 0.002  # the 10 % slowdown shown at a five-metric Holm share
    assert rank.sd_log_ratio < t.sd_log_ratio / 2  # what sizes a job: the spread its interval implies


def test_rank_test_with_too_few_or_equal_pairs() -> None:
    few = paired_rank_test([1.0] * 5, [1.1, 1.2, 1.05, 1.15, 1.3])
    assert (few.ci_low, few.ci_high) == (0.0, math.inf) and few.p_value == pytest.approx(0.0625)
    assert math.isfinite(few.sd_log_ratio)  # the plain SD sizes the job
    equal = paired_rank_test([1.0, 2.0, 4.0], [2.0, 4.0, 8.0])
    assert (equal.ratio, equal.ci_low, equal.ci_high, equal.p_value) == (2.0, 2.0, 2.0, 0.0)
    assert math.isnan(paired_rank_test([1.0], [2.0]).ratio)
    with pytest.raises(ValueError, match="paired_rank_test needs matched pairs"):
        paired_rank_test([1.0, 2.0], [1.0])
