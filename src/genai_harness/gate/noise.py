"""The noise between separate runs, pooled over the cells of a comparison (pure functions).

A gate of separate runs tests one value per run (a worker call's median) because the noise between processes is
what a regression must clear. With three runs a side a cell has four degrees of freedom of its own, and a t bar
at four df, shared over a comparison's rows by Holm, is far above the noise itself (t[0.9995, 4] = 8.6 against
t[0.9995, 40] = 3.6). Every cell of a metric measures the same machine's run-to-run noise, so the spread is
estimated once per metric from the residuals of every cell and both sides (each run's log value less its side's
mean in that cell): :func:`pooled_spread`.

Degrees of freedom are counted honestly: a slow run makes its cells slow together (the machine's noise is
shared), so the residuals of one run across cells are correlated and add less than one df each. The pooled df is
divided by Kish's design effect ``1 + (m - 1) * rho`` (``m`` cells a run, ``rho`` the residuals' correlation
within a run, estimated from the same residuals and clipped to 0..1), and is never below the largest one cell has
on its own. A cell whose own spread is larger than the pool's by an F test at ``HETEROGENEITY_ALPHA`` (a noisier
runtime beside quiet ones) keeps its own spread and df: pooling must not lend it a quiet neighbour's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

HETEROGENEITY_ALPHA = 0.05
"""A cell whose own spread exceeds the pooled one at this F-test level is judged on its own spread."""

Side = Mapping[str, float]
"""One side of one cell: run id -> the log of that run's value (its median)."""


@dataclass(frozen=True)
class Spread:
    """The noise of one run's log value: its standard deviation and the degrees of freedom behind it."""

    sd: float
    df: float
    cells: int = 1
    """How many cells the estimate pools (1: the cell's own runs)."""
    rho: float = math.nan
    """The residuals' correlation within a run across cells (the share of the noise the cells share)."""

    def less_df(self, by: float) -> Spread:
        """This spread with ``by`` fewer degrees of freedom (a slope estimated from the same residuals)."""
        return Spread(self.sd, max(0.0, self.df - float(by)), self.cells, self.rho) if by else self

    @property
    def usable(self) -> bool:
        """True when the spread can judge a difference (at least one df and a finite SD)."""
        return self.df >= 1 and math.isfinite(self.sd)


def _residuals(side: Side) -> dict[str, float]:
    values = [v for v in side.values() if math.isfinite(v)]
    if not values:
        return {}
    mean = sum(values) / len(values)
    return {run: v - mean for run, v in side.items() if math.isfinite(v)}


def own_spread(baseline: Side, current: Side) -> Spread:
    """The spread of one cell from its own runs: both sides' residuals, ``n_b + n_c - 2`` df (pure)."""
    residuals = [*_residuals(baseline).values(), *_residuals(current).values()]
    df = float(len(residuals) - (1 if baseline else 0) - (1 if current else 0))
    if df < 1:
        return Spread(math.nan, 0.0)
    return Spread(math.sqrt(sum(r * r for r in residuals) / df), df)


def pooled_spread(cells: Sequence[tuple[Side, Side]]) -> Spread:
    """The run-to-run spread of one metric pooled over ``cells`` ((baseline, current) each), with its effective
    degrees of freedom (pure; see the module docstring). Runs are matched across cells by run id and side."""
    by_run: dict[tuple[int, str], list[float]] = {}
    squares, df_raw, cell_dfs = 0.0, 0.0, []
    for baseline, current in cells:
        cell_df = 0.0
        for index, side in enumerate((baseline, current)):
            residuals = _residuals(side)
            if len(residuals) < 2:
                continue
            squares += sum(r * r for r in residuals.values())
            cell_df += len(residuals) - 1
            for run, r in residuals.items():
                by_run.setdefault((index, run), []).append(r)
        df_raw += cell_df
        cell_dfs.append(cell_df)
    if df_raw < 1:
        return Spread(math.nan, 0.0, len(cells))
    variance = squares / df_raw
    sizes = [len(rs) for rs in by_run.values()]
    pairs = sum(m * (m - 1) for m in sizes)
    mean_square = squares / sum(sizes)  # the residuals' own scale (centring shrinks them and their products alike)
    if pairs and mean_square > 0:
        cross = sum(sum(rs) ** 2 - sum(r * r for r in rs) for rs in by_run.values())
        rho = min(1.0, max(0.0, cross / (mean_square * pairs)))
    else:
        rho = 0.0 if not pairs else 1.0
    cluster = sum(m * m for m in sizes) / sum(sizes) if sizes else 1.0
    df = max(df_raw / (1.0 + (cluster - 1.0) * rho), max(cell_dfs, default=0.0))
    return Spread(math.sqrt(variance), float(df), len(cells), float(rho))


def cell_spread(own: Spread, pooled: Spread, *, alpha: float = HETEROGENEITY_ALPHA) -> Spread:
    """The spread a cell is judged by (pure): the pool's, unless its own is larger by an F test at ``alpha``
    (or the pool has no more df than the cell alone)."""
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    if not pooled.usable or (own.usable and own.df >= pooled.df):
        return own
    noisier = own.usable and own.sd > pooled.sd
    if noisier and (pooled.sd == 0.0 or float(stats.f.sf((own.sd / pooled.sd) ** 2, own.df, pooled.df)) < alpha):
        return own
    return pooled


@dataclass(frozen=True)
class RunsTest:
    """A two-sample t-test on the log run values of one cell at a given spread: the ratio of geometric means,
    its 95 % interval, the p-value, the standard error of the log difference and the df behind it."""

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    df: float


def runs_test(baseline: Side, current: Side, spread: Spread, *, confidence: float = 0.95,
              leverage: float = 0.0) -> RunsTest:
    """Student's t on ``mean log current - mean log baseline`` with ``spread`` as the run-to-run noise (pure).
    With no usable spread the ratio is still given, the rest NaN. ``leverage``: the variance a covariate
    adjustment adds to the difference of mean logs (``gate.calibration.leverage``)."""
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    base = [v for v in baseline.values() if math.isfinite(v)]
    cur = [v for v in current.values() if math.isfinite(v)]
    if not base or not cur:
        return RunsTest(math.nan, math.nan, math.nan, math.nan, math.nan, 0.0)
    diff = sum(cur) / len(cur) - sum(base) / len(base)
    if not spread.usable:
        return RunsTest(math.exp(diff), math.nan, math.nan, math.nan, math.nan, 0.0)
    se = math.sqrt(spread.sd ** 2 * (1 / len(base) + 1 / len(cur)) + leverage)
    if se == 0.0:
        return RunsTest(math.exp(diff), math.exp(diff), math.exp(diff), 1.0 if diff == 0.0 else 0.0, 0.0, spread.df)
    half = float(stats.t.ppf(0.5 + confidence / 2, spread.df)) * se
    p_value = float(2 * stats.t.sf(abs(diff / se), spread.df))
    return RunsTest(math.exp(diff), math.exp(diff - half), math.exp(diff + half), p_value, se, spread.df)
