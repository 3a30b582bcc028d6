"""Comparing two sets of results: ratio of medians, its bootstrap interval, a rank test, a verdict.

A pure function of two results DataFrames. Per cell (target, task, workload, model) and metric:

- ``ratio`` = median(current) / median(baseline), with a two-sample bootstrap 95 % interval;
- ``p_value``: two-sided Mann-Whitney U test. When both sides hold at least ``MIN_REPETITIONS`` runs of
  the cell (an ``ab`` run, or several stored runs), the test takes one median per run: repetitions
  inside one process share that process's state, so pooling them would count one process's luck many
  times over (pseudo-replication) and cry wolf between processes. Otherwise it takes the repetitions;
  ``tested_on`` says which;
- ``slowdown``: the ratio turned so that > 1 is always worse (1 / ratio for higher-is-better metrics);
- ``verdict``: ``regression`` needs both ``slowdown >= threshold`` and ``p_value < alpha``;
  ``improvement`` needs ``slowdown <= 1 / threshold`` and ``p_value < alpha``; fewer than
  ``min_repetitions`` on a side is ``too little data``; anything else ``unchanged``. A cell present on
  one side only is ``only in baseline`` / ``only in current``.

asv's ``compare`` applies the same shape of rule (a factor and a Mann-Whitney test); the false-alarm
and detection rates of ours are measured in ``benchmarks/gate_calibration.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from genai_harness.errors import ComparisonError
from genai_harness.results.analysis import TARGET_COLUMNS, long_view, target_label
from genai_harness.results.metric_info import METRICS, headline_metrics, metric
from genai_harness.results.statistics import median, rank_test, ratio_ci, ratio_of_medians

if TYPE_CHECKING:
    import pandas as pd

THRESHOLD = 1.10
"""Default factor a metric must worsen by to count as a regression (asv's default too)."""
ALPHA = 0.05
"""Default significance level of the rank test."""
MIN_REPETITIONS = 4
"""Fewest repetitions per side that can reach p < 0.05 in a two-sided Mann-Whitney test (4 vs 4: p = 0.029)."""
VERDICTS = ("regression", "improvement", "unchanged", "too little data", "only in baseline", "only in current")
KEY_COLUMNS: tuple[str, ...] = ("target", "task", "workload_id", "model_id")
RESULT_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS, "metric", "unit", "better", "n_baseline", "n_current", "baseline_median", "current_median",
    "ratio", "ratio_ci_low", "ratio_ci_high", "slowdown", "p_value", "tested_on", "threshold", "verdict",
)


def default_metrics() -> tuple[str, ...]:
    """The metrics a gate compares unless told otherwise: the headline speed metrics (load and memory too)."""
    return tuple(m.name for m in headline_metrics())


def verdict(slowdown: float, p_value: float, n_baseline: int, n_current: int, *, threshold: float = THRESHOLD,
            alpha: float = ALPHA, min_repetitions: int = MIN_REPETITIONS) -> str:
    """The verdict of one cell and metric from its slowdown factor (> 1 is worse) and rank-test p-value."""
    if n_baseline < min_repetitions or n_current < min_repetitions or math.isnan(slowdown):
        return "too little data"
    significant = not math.isnan(p_value) and p_value < alpha
    if significant and slowdown >= threshold:
        return "regression"
    if significant and slowdown <= 1.0 / threshold:
        return "improvement"
    return "unchanged"


def _keyed(df: pd.DataFrame, metrics: Sequence[str], ignore: Sequence[str]) -> pd.DataFrame:
    long = long_view(df, metrics)
    if ignore and len(long):
        kept = [c for c in TARGET_COLUMNS if c not in ignore and c in long.columns]
        long["target"] = [target_label(r) for r in long[kept].to_dict("records")]
        for column in ("workload_id", "model_id"):
            if column in ignore:
                long[column] = "*"
    return long


def compare_frames(baseline: pd.DataFrame, current: pd.DataFrame, *, threshold: float = THRESHOLD,
                   thresholds: Mapping[str, float] | None = None, alpha: float = ALPHA,
                   metrics: Sequence[str] | None = None, min_repetitions: int = MIN_REPETITIONS,
                   ignore: Sequence[str] = (), intervals: bool = True) -> pd.DataFrame:
    """Compare ``current`` against ``baseline``: one row per cell and metric (columns: :data:`RESULT_COLUMNS`).

    ``thresholds`` sets the factor per metric (others use ``threshold``). ``ignore`` names the target
    columns (e.g. ``environment``, ``precision``) or ``workload_id``/``model_id`` that differ on purpose
    between the sides, as in an A/B run, so that cells pair across them. Only ``ok`` rows count.
    ``intervals=False`` skips the bootstrap (NaN intervals; the verdict does not use them): for bulk
    calibration.
    """
    import pandas as pd

    names = tuple(metrics) if metrics is not None else default_metrics()
    for name in (*names, *(thresholds or {})):
        metric(name)  # unknown metric names fail here, with the list of known ones
    factors = {**{n: threshold for n in names}, **dict(thresholds or {})}
    for name, factor in factors.items():
        if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1.0):
            raise ComparisonError(f"threshold of {name} must be a finite factor above 1 (e.g. 1.10), got {factor!r}")
    base, cur = _keyed(baseline, names, ignore), _keyed(current, names, ignore)
    keys = [*KEY_COLUMNS, "metric"]
    base_groups = {k: g for k, g in base.groupby(keys, sort=False)} if len(base) else {}
    cur_groups = {k: g for k, g in cur.groupby(keys, sort=False)} if len(cur) else {}
    records: list[dict[str, Any]] = []
    for key in list(base_groups) + [k for k in cur_groups if k not in base_groups]:
        info = METRICS[key[-1]]
        b_group, c_group = base_groups.get(key), cur_groups.get(key)
        b = b_group["value"].tolist() if b_group is not None else []
        c = c_group["value"].tolist() if c_group is not None else []
        factor = factors.get(info.name, threshold)
        row: dict[str, Any] = {**dict(zip(keys, key, strict=True)), "unit": info.unit, "better": info.better,
                               "n_baseline": len(b), "n_current": len(c), "baseline_median": median(b),
                               "current_median": median(c), "threshold": factor}
        if not b or not c:
            row.update(ratio=math.nan, ratio_ci_low=math.nan, ratio_ci_high=math.nan, slowdown=math.nan,
                       p_value=math.nan, tested_on="", verdict="only in current" if not b else "only in baseline")
            records.append(row)
            continue
        ratio = ratio_of_medians(b, c)
        low, high = ratio_ci(b, c) if intervals else (math.nan, math.nan)
        slowdown = ratio if info.lower_is_better else (1.0 / ratio if ratio else math.nan)
        b_runs, c_runs = run_medians(b_group), run_medians(c_group)
        if len(b_runs) >= min_repetitions and len(c_runs) >= min_repetitions:
            tested_on, b_test, c_test = "runs", b_runs, c_runs
        else:
            tested_on, b_test, c_test = "repetitions", b, c
        p_value = rank_test(b_test, c_test)
        row.update(ratio=ratio, ratio_ci_low=low, ratio_ci_high=high, slowdown=slowdown, p_value=p_value,
                   tested_on=tested_on,
                   verdict=verdict(slowdown, p_value, len(b_test), len(c_test), threshold=factor, alpha=alpha,
                                   min_repetitions=min_repetitions))
        records.append(row)
    return pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))


def run_medians(group: pd.DataFrame) -> list[float]:
    """One median per run of a cell's long-view rows (the unit a between-process test counts)."""
    if "run_id" not in group.columns:
        return []
    return [float(v) for v in group.groupby("run_id", sort=False)["value"].median().tolist()]


def check_comparable(comparison: pd.DataFrame, baseline_what: str, current_what: str) -> None:
    """Raise :class:`ComparisonError` when the two sides share no cell (nothing could be judged)."""
    paired = comparison[~comparison["verdict"].isin(["only in baseline", "only in current"])]
    if not len(paired):
        raise ComparisonError(
            f"{baseline_what} and {current_what} have no cell in common (same target, task, workload and model; "
            "the target includes precision and threads); compare runs of the same suite on the same devices, "
            "or name the dimension that differs on purpose with --ignore"
        )


def has_regression(comparison: pd.DataFrame) -> bool:
    """True when any cell and metric is a regression."""
    return bool((comparison["verdict"] == "regression").any())
