"""Latency distributions: the ECDF of one latency metric per target (every repetition a step)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib
import numpy as np

from genai_harness.analysis.long_view import long_view
from genai_harness.analysis.metric_info import metric
from genai_harness.dashboards.common import WIDTH_IN, axes, cell_styles, empty, finish, legend_width, plain_text

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


HORIZONTAL = ({"orientation": "horizontal"} if tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
              else {"vert": False})
ECDF_POINTS = 200
"""At most this many steps per ECDF line (beyond it, the ECDF is drawn at evenly spaced shares: a step of
0.5 % of the repetitions, finer than a line's width at the report's size)."""


@plain_text
def latency_ecdf(df: pd.DataFrame, metric_name: str = "tpot_ms", *, ax: Axes | None = None) -> Figure:
    """The empirical CDF of ``metric_name`` per target (colour) and workload (line style): how the repetitions
    spread, tails included. A line of more than :data:`ECDF_POINTS` values is drawn at that many quantiles."""
    info = metric(metric_name)
    figure, given = axes(ax)
    long = long_view(df, [info.name])
    if not len(long):
        empty(given, f"no {info.label} recorded")
        return finish(figure, df, f"{info.title}: distribution")
    styles = cell_styles(long["target"], long["workload_id"])
    if ax is None:  # wider, for the legend beside the data
        figure.set_figwidth(WIDTH_IN + legend_width(styles))
    sizes = []
    for (target, workload), group in long.groupby(["target", "workload_id"], sort=True):
        values = np.sort(group["value"].to_numpy(dtype=float))
        sizes.append(len(values))
        share = np.arange(1, len(values) + 1) / len(values)
        if len(values) > ECDF_POINTS:  # the ECDF at ECDF_POINTS evenly spaced shares: the page stays small
            share = np.linspace(share[0], 1.0, ECDF_POINTS)
            values = np.quantile(values, share, method="inverted_cdf")
        given.step(values, share, where="post", color=styles.colors[str(target)],
                   ls=styles.linestyles[str(workload)], lw=1.1)
    given.set_xlabel(info.title)
    given.set_ylabel("share of repetitions at or below (fraction)")
    given.set_ylim(0, 1.02)
    styles.legend(given)
    given.grid(alpha=0.3)
    counted = f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"
    return finish(figure, df, f"{info.title}: distribution (ECDF, {counted} repetitions a line)")


@plain_text
def itl_percentiles(df: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Inter-token latency p50 and p90 (ms) per target as points over repetitions (the token-level spread)."""
    figure, ax = axes(ax)
    long = long_view(df, ["itl_p50_ms", "itl_p90_ms"])
    if not len(long):
        empty(ax, "no inter-token latency recorded")
        return finish(figure, df, "Inter-token latency")
    targets = sorted(long["target"].unique())
    for offset, (name, color) in enumerate((("itl_p50_ms", "#4c72b0"), ("itl_p90_ms", "#dd8452"))):
        part = long[long["metric"] == name]
        data = [part.loc[part["target"] == t, "value"].to_numpy(dtype=float) for t in targets]
        keep = [i for i, d in enumerate(data) if len(d)]
        if not keep:
            continue
        boxes = ax.boxplot([data[i] for i in keep], positions=[i + (offset - 0.5) * 0.35 for i in keep],
                           widths=0.3, **HORIZONTAL, patch_artist=True, showfliers=False, manage_ticks=False)
        for box in boxes["boxes"]:
            box.set_facecolor(color)
        boxes["boxes"][0].set_label(metric(name).label)
    ax.set_yticks(range(len(targets)), targets, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("inter-token latency (ms)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return finish(figure, df, "Inter-token latency: p50 and p90 of each repetition's token gaps\n"
                              "(box: quartiles, whiskers 1.5 IQR)")
