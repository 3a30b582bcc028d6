"""Device/framework comparison: the median of one metric per target, per workload, with its 95 % CI."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps

from genai_harness.analysis.long_view import cell_statistics
from genai_harness.analysis.metric_info import metric
from genai_harness.dashboards.common import axes, empty, finish, plain_text

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@plain_text
def device_comparison(df: pd.DataFrame, metric_name: str, *, stats: pd.DataFrame | None = None,
                      ax: Axes | None = None) -> Figure:
    """Horizontal bars: the median of ``metric_name`` per target (one bar group per workload and model),
    the bootstrap 95 % CI as error bars. A metric never recorded gives a figure that says so.

    ``stats``: ``cell_statistics(df)`` computed once by the caller (a report draws many figures of one frame).
    """
    info = metric(metric_name)
    if stats is not None and len(stats):
        stats = stats[stats["metric"] == info.name]
        if "task" in df.columns:
            stats = stats[stats["task"].isin(df["task"].unique())]
    else:
        stats = cell_statistics(df, [info.name])
    targets = sorted(stats["target"].unique()) if len(stats) else []
    cells = sorted({(w, m) for w, m in zip(stats.get("workload_id", []), stats.get("model_id", []), strict=False)})
    figure, ax = axes(ax, height=max(3.0, 1.2 + 0.28 * max(1, len(targets) * max(1, len(cells)))))
    if not len(stats):
        empty(ax, f"no {info.label} recorded")
        return finish(figure, df, f"{info.title} per target")
    height = 0.8 / max(1, len(cells))
    colors = matplotlib_colors(len(cells))
    positions = np.arange(len(targets))
    for i, (workload, model) in enumerate(cells):
        part = stats[(stats["workload_id"] == workload) & (stats["model_id"] == model)].set_index("target")
        part = part.reindex(targets)
        mid = part["median"].to_numpy(dtype=float)
        low = np.clip(mid - part["ci_low"].to_numpy(dtype=float), 0, None)
        high = np.clip(part["ci_high"].to_numpy(dtype=float) - mid, 0, None)
        ax.barh(positions + i * height - 0.4 + height / 2, mid, height=height, xerr=[low, high],
                color=colors[i], capsize=2, label=f"{workload} | {model}")
    ax.set_yticks(positions, targets, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{info.title}, median with 95 % CI ({info.better} is better)")
    ax.set_ylabel("target (framework device [precision] [threads])")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return finish(figure, df, f"{info.title} per target")


def matplotlib_colors(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours from the tab20 map (cycled)."""
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(max(1, n))]
