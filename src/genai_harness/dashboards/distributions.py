"""Latency distributions: the ECDF of one latency metric per target (every repetition a step)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib
import numpy as np

from genai_harness.dashboards.common import axes, empty, finish
from genai_harness.results.analysis import long_view
from genai_harness.results.metric_info import metric

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


HORIZONTAL = ({"orientation": "horizontal"} if tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
              else {"vert": False})
ECDF_POINTS = 400
"""At most this many steps per ECDF line (beyond it, the ECDF is drawn at evenly spaced shares)."""


def latency_ecdf(df: pd.DataFrame, metric_name: str = "tpot_ms", *, ax: Axes | None = None) -> Figure:
    """The empirical CDF of ``metric_name`` per target and workload: how the repetitions spread, tails included."""
    info = metric(metric_name)
    figure, ax = axes(ax)
    long = long_view(df, [info.name])
    if not len(long):
        empty(ax, f"no {info.label} recorded")
        return finish(figure, df, f"{info.title}: distribution")
    for (target, workload), group in long.groupby(["target", "workload_id"], sort=True):
        values = np.sort(group["value"].to_numpy(dtype=float))
        share = np.arange(1, len(values) + 1) / len(values)
        if len(values) > ECDF_POINTS:  # the ECDF at ECDF_POINTS evenly spaced shares: the page stays small
            share = np.linspace(share[0], 1.0, ECDF_POINTS)
            values = np.quantile(values, share, method="inverted_cdf")
        ax.step(values, share, where="post", label=f"{target} | {workload} (n={len(group)})")
    ax.set_xlabel(info.title)
    ax.set_ylabel("share of repetitions at or below (fraction)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=6, loc="lower right")
    ax.grid(alpha=0.3)
    return finish(figure, df, f"{info.title}: distribution (ECDF)")


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
    ax.legend(fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    return finish(figure, df, "Inter-token latency: p50 and p90 of each repetition's token gaps\n"
                              "(box: quartiles, whiskers 1.5 IQR)")
