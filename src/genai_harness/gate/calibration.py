"""Taking the machine's speed out of a comparison of separate runs: the calibration kernel as a covariate (pure).

Every cell records ``calib_ms``, the mean wall time of a fixed compute kernel timed beside it
(:mod:`genai_harness.worker.calibration`). When the machine is busy, the kernel and the cell are slow together;
a slower build of the runtime moves the cell alone. Per metric, over every cell of a comparison, both sides, this
is an analysis of covariance on the logs:

    log value[run] = cell-and-side mean + slope * (log kernel[run] - its cell-and-side mean) + noise

The slope is estimated from the within-side deviations only (:func:`fit_slope`), so a difference between the sides,
a real slowdown, cannot leak into it. Each run's log value is then moved to the cell's mean kernel
(:func:`adjust_side`): ``value - slope * (log kernel - mean log kernel of the cell, both sides)``. The difference of
the adjusted means is the difference of the raw ones less ``slope`` times the sides' difference in kernel: the
part of the difference the machine's speed explains. Its variance gains ``(kernel difference)^2 * se(slope)^2``
(:func:`leverage`), and the spread loses one degree of freedom for the slope.

A kernel that explains nothing changes nothing: the slope is used only when it is significant (t-test at
:data:`SLOPE_ALPHA`) and of the sign a busy machine gives (durations longer, rates lower); otherwise the runs
are judged as before. Cells with a run lacking a kernel (an older store, an instruction-count cell) are never
adjusted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genai_harness.analysis.metric_info import METRICS

SLOPE_ALPHA = 0.05
"""The slope of a metric on the kernel is used only when positive with a two-sided t-test p-value below this."""
CALIB_COLUMN = "calib_ms"
"""The row column holding the cell's calibration kernel time (ms)."""

Side = Mapping[str, float]
"""One side of one cell: run id -> a log value (the run's median, or its kernel)."""


@dataclass(frozen=True)
class Slope:
    """The pooled slope of log values on log kernel times: estimate, standard error, df, p-value, and the sum of
    squared within-side kernel deviations (``sxx``); ``used`` when it is applied."""

    slope: float
    se: float
    df: float
    p_value: float
    sxx: float
    used: bool

    @classmethod
    def none(cls) -> Slope:
        """No slope: nothing to fit, nothing adjusted."""
        return cls(0.0, math.nan, 0.0, math.nan, 0.0, False)


def _centred(values: Side, kernel: Side) -> list[tuple[str, float, float]]:
    runs = [r for r in values if math.isfinite(values[r]) and math.isfinite(kernel.get(r, math.nan))]
    if len(runs) < 2:
        return []
    y_mean = sum(values[r] for r in runs) / len(runs)
    x_mean = sum(kernel[r] for r in runs) / len(runs)
    return [(r, kernel[r] - x_mean, values[r] - y_mean) for r in runs]


def complete(values: Side, kernel: Side) -> bool:
    """True when every run of ``values`` with a finite value has a finite kernel (pure)."""
    return all(math.isfinite(kernel.get(r, math.nan)) for r, v in values.items() if math.isfinite(v))


def fit_slope(cells: Sequence[tuple[Side, Side, Side, Side]], *, alpha: float = SLOPE_ALPHA,
              sign: float = 1.0) -> Slope:
    """The slope of log values on log kernels pooled over ``cells`` (baseline values, baseline kernel, current
    values, current kernel), from the deviations from each cell-and-side mean (pure). Its standard error is
    clustered by run (the cells of one run share that run's noise: counting them as independent points would
    find slopes in noise) and its t-test has the runs less three df (two sides' means and the slope; never more
    than the points' own); ``used`` when significant at ``alpha`` and of the expected ``sign`` (+1 for a duration,
    which a slow machine lengthens; -1 for a rate, which it lowers)."""
    from scipy import stats  # heavy (~0.8 s): loaded by a statistical test, not at the CLI start

    pairs: list[tuple[tuple[int, str], float, float]] = []  # ((side, run), kernel deviation, value deviation)
    groups = 0
    for b_values, b_kernel, c_values, c_kernel in cells:
        for index, (values, kernel) in enumerate(((b_values, b_kernel), (c_values, c_kernel))):
            centred = _centred(values, kernel)
            if centred:
                pairs.extend(((index, run), x, y) for run, x, y in centred)
                groups += 1
    runs = len({run for run, _, _ in pairs})
    df = min(len(pairs) - groups - 1, runs - 3)
    sxx = sum(x * x for _, x, _ in pairs)
    if df < 1 or sxx <= 0.0:
        return Slope.none()
    slope = sum(x * y for _, x, y in pairs) / sxx
    # clustered by run: the cells of one run share its noise, so they are not independent points of the fit
    scores: dict[tuple[int, str], float] = {}
    for run, x, y in pairs:
        scores[run] = scores.get(run, 0.0) + x * (y - slope * x)
    se = math.sqrt(sum(v * v for v in scores.values()) * runs / (runs - 1)) / sxx
    p_value = (0.0 if slope != 0.0 else 1.0) if se == 0.0 else float(2 * stats.t.sf(abs(slope / se), df))
    return Slope(slope, se, float(df), p_value, sxx, sign * slope > 0.0 and p_value < alpha)


def adjust_side(values: Side, kernel: Side, slope: float, centre: float) -> dict[str, float]:
    """``values`` moved to the kernel time ``centre`` (a log): ``value - slope * (kernel - centre)`` (pure)."""
    return {r: v - slope * (kernel[r] - centre) if math.isfinite(v) else v for r, v in values.items()}


def kernel_centre(b_kernel: Side, c_kernel: Side) -> float:
    """The mean log kernel of one cell over both sides' runs (pure)."""
    logs = [v for v in (*b_kernel.values(), *c_kernel.values()) if math.isfinite(v)]
    return sum(logs) / len(logs) if logs else math.nan


def leverage(b_kernel: Side, c_kernel: Side, slope: Slope) -> float:
    """The variance the slope's own uncertainty adds to the adjusted difference of mean logs:
    ``(mean log kernel current - mean log kernel baseline)^2 * se(slope)^2`` (pure)."""
    b = [v for v in b_kernel.values() if math.isfinite(v)]
    c = [v for v in c_kernel.values() if math.isfinite(v)]
    if not slope.used or not b or not c:
        return 0.0
    return (sum(c) / len(c) - sum(b) / len(b)) ** 2 * slope.se ** 2


Cells = Mapping[tuple[Any, ...], tuple[Side, Side]]
"""Cell key (the metric last) -> (baseline, current) log values per run."""


def adjust_cells(sides: Cells, kernels: Cells, metrics: Sequence[str]) -> tuple[
        dict[tuple[Any, ...], tuple[Side, Side]], dict[tuple[Any, ...], tuple[Slope, float]]]:
    """Each cell's log run values moved to its mean kernel, per metric of ``metrics`` (pure): ``sides`` and
    ``kernels`` map a cell key (the metric last) to its (baseline, current) log run values and log kernels.
    Returns the sides (adjusted where a slope is used) and, per adjusted key, the metric's slope and the cell's
    :func:`leverage`. Cells with a run lacking a kernel are left as they are, and out of the fit."""
    out = dict(sides)
    applied: dict[tuple[Any, ...], tuple[Slope, float]] = {}
    for name in metrics:
        keys = [k for k in sides if k[-1] == name and k in kernels
                and all(complete(v, x) for v, x in zip(sides[k], kernels[k], strict=True))]
        slope = fit_slope([(sides[k][0], kernels[k][0], sides[k][1], kernels[k][1]) for k in keys],
                          sign=1.0 if METRICS[name].lower_is_better else -1.0)
        if not slope.used:
            continue
        for k in keys:
            (b, c), (bx, cx) = sides[k], kernels[k]
            centre = kernel_centre(bx, cx)
            out[k] = (adjust_side(b, bx, slope.slope, centre), adjust_side(c, cx, slope.slope, centre))
            applied[k] = (slope, leverage(bx, cx, slope))
    return out, applied
