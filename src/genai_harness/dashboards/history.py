"""History: each cell's metric over runs (median per run with its CI), the regressions compare found marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from genai_harness.analysis.long_view import long_view
from genai_harness.analysis.metric_info import metric
from genai_harness.dashboards.common import WIDTH_IN, axes, cell_styles, empty, finish, legend_width, plain_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CELL = ("target", "task", "workload_id", "model_id")
MARKED_RUNS = 30
"""Up to this many runs each run's median is a marker too; beyond, the line alone (a page stays small)."""


@plain_text
def history(df: pd.DataFrame, metric_name: str, comparison: pd.DataFrame | None = None, *,
            ax: Axes | None = None) -> Figure:
    """One line per cell: the median of ``metric_name`` per run (x: run start time), its repetitions'
    interquartile range as a band (one line and one band per cell, however many runs: cheap on stores of
    thousands of runs). Colour: the target; line style: the workload.

    ``comparison`` (``genai_harness.gate.compare.compare_frames(baseline, current)``, current = the newest
    run) marks the cells whose verdict is ``regression`` with a red cross on their newest point.
    """
    info = metric(metric_name)
    figure, given = axes(ax)
    title = f"{info.title} over runs"
    long = long_view(df, [info.name])
    if not len(long) or "run_id" not in long.columns:
        empty(given, f"no {info.label} recorded")
        return finish(figure, df, title)
    grouped = long.groupby(["run_id", *CELL], sort=False)["value"]
    stats = grouped.median().rename("median").to_frame()
    stats["ci_low"], stats["ci_high"] = grouped.quantile(0.25), grouped.quantile(0.75)
    stats = stats.reset_index()
    if "run_started_at" in long.columns:
        started = long.groupby("run_id")["run_started_at"].min()
        stats["started"] = pd.to_datetime(stats["run_id"].map(started), utc=True, errors="coerce")
    else:
        stats["started"] = stats["run_id"]
    regressed: set[tuple[str, ...]] = set()
    if comparison is not None and len(comparison):
        bad = comparison[(comparison["verdict"] == "regression") & (comparison["metric"] == info.name)]
        regressed = {tuple(str(r[c]) for c in CELL) for r in bad.to_dict("records")}
    styles = cell_styles(stats["target"], stats["workload_id"])
    if ax is None:  # wider, for the legend beside the data
        figure.set_figwidth(WIDTH_IN + legend_width(styles))
    ax = given
    runs = stats["run_id"].nunique()
    marked = False
    for key, group in stats.groupby(list(CELL), sort=True):
        group = group.sort_values("started")
        target, workload = str(key[0]), str(key[2])
        color, linestyle = styles.colors[target], styles.linestyles[workload]
        mid = group["median"].astype(float)
        ax.plot(group["started"], mid, color=color, ls=linestyle, lw=1.1,
                marker="o" if runs <= MARKED_RUNS else None, ms=3)
        ax.fill_between(group["started"], group["ci_low"].astype(float), group["ci_high"].astype(float),
                        color=color, alpha=0.12, lw=0)
        if tuple(str(k) for k in key) in regressed:
            ax.scatter(group["started"].iloc[-1:], mid.iloc[-1:], marker="X", s=120, color="red", zorder=4,
                       label=None if marked else "regression (compare)")
            ax.annotate("regression", (group["started"].iloc[-1], mid.iloc[-1]), textcoords="offset points",
                        xytext=(4, 6), fontsize=7, color=color)
            marked = True
    ax.set_xlabel("run (start time, UTC)")
    ax.set_ylabel(f"{info.title}, median per run (band: p25-p75)")
    ax.tick_params(axis="x", labelrotation=30, labelsize=6)
    styles.legend(ax)
    if marked:
        ax.add_artist(ax.get_legend())
        ax.legend(handles=[h for h in ax.collections if h.get_label() == "regression (compare)"], fontsize=7,
                  loc="upper left")
    ax.grid(alpha=0.3)
    return finish(figure, df, title)
