"""Relative speed: a cell x target matrix (1.0 = the best target of the cell) and a summary score per target.

The score is the geometric mean of speed ratios against a named baseline (a target label, or a run id:
the baseline run's best target per cell), as MLPerf Client and Geekbench AI report it; the per-workload
ratios and the reference agreement are kept beside it so one number never hides its parts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from genai_harness.analysis.long_view import cell_statistics, with_target
from genai_harness.analysis.metric_info import METRICS, headline_metrics, metric, metrics_for
from genai_harness.analysis.statistics import geometric_mean
from genai_harness.dashboards.common import axes, empty, finish, label_inches, plain_text, short_label
from genai_harness.errors import ConfigurationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BY = ("target", "task", "workload_id", "model_id")


def speed_metric(task: str) -> str:
    """The metric that stands for speed on ``task``: its first headline speed metric (TTFT, image, batch ...)."""
    for info in headline_metrics(task):
        if info.kind == "speed" and info.scope == "repetition":
            return info.name
    raise ConfigurationError(f"no speed metric is known for task {task!r}")


def speed_medians(df: pd.DataFrame, metric_name: str | None = None, stats: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """Per target and cell: the median of the task's speed metric (or ``metric_name``), with ``better``.

    ``stats``: ``cell_statistics(df)`` already computed by the caller, reused where it holds the metric."""
    if metric_name is not None:
        metric(metric_name)
    frames = []
    tasks = sorted(df["task"].dropna().unique()) if "task" in df.columns else []
    for task in tasks:
        name = metric_name or speed_metric(task)
        if stats is not None and len(stats) and ((stats["task"] == task) & (stats["metric"] == name)).any():
            part = stats[(stats["task"] == task) & (stats["metric"] == name)]
        else:
            part = cell_statistics(df[df["task"] == task], [name], by=BY)
        if len(part):
            frames.append(part)
    if not frames:
        return pd.DataFrame(columns=[*BY, "metric", "unit", "better", "median", "ci_low", "ci_high", "n"])
    return pd.concat(frames, ignore_index=True)


def relative_speed(df: pd.DataFrame, metric_name: str | None = None, stats: pd.DataFrame | None = None
                   ) -> pd.DataFrame:
    """Cell (rows) x target (columns): speed relative to the cell's best target, 1.0 = best, 0.5 = half as fast."""
    medians = speed_medians(df, metric_name, stats)
    if not len(medians):
        return pd.DataFrame()
    medians = medians.assign(cell=medians["task"] + " | " + medians["workload_id"] + " | " + medians["model_id"]
                             + " | " + medians["metric"])
    speed = np.where(medians["better"] == "lower", 1.0 / medians["median"].astype(float),
                     medians["median"].astype(float))
    medians = medians.assign(speed=speed)
    best = medians.groupby("cell")["speed"].transform("max")
    medians = medians.assign(relative=medians["speed"] / best)
    return medians.pivot_table(index="cell", columns="target", values="relative", aggfunc="first")


@plain_text
def relative_speed_matrix(df: pd.DataFrame, metric_name: str | None = None, *, stats: pd.DataFrame | None = None,
                          ax: Axes | None = None) -> Figure:
    """Heat map of :func:`relative_speed`, readable with 20 targets (labels rotated, values printed when they fit)."""
    matrix = relative_speed(df, metric_name, stats)
    n_rows, n_cols = matrix.shape if len(matrix) else (1, 1)
    rows, columns = [short_label(c) for c in matrix.index], [short_label(c) for c in matrix.columns]
    size = 6 if max(n_rows, n_cols) > 10 else 7
    # room for the tick labels as well as the cells: long ids widen the figure instead of collapsing the axes
    height = max(3.5, 2.2 + 0.32 * n_rows + label_inches(columns, size))
    width = max(8.0, 2.0 + 0.45 * n_cols + label_inches(rows, size))
    figure, ax = axes(ax, height=math.ceil(height * 72) / 72, width=math.ceil(width * 72) / 72)  # whole points
    title = "Relative speed per cell (1.0 = fastest target of the cell)"
    if not len(matrix):
        empty(ax, "no speed metric recorded")
        return finish(figure, df, title)
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(n_cols), columns, rotation=90, fontsize=size)
    ax.set_yticks(range(n_rows), rows, fontsize=size)
    if n_cols * n_rows <= 400:
        for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
            if value == value:
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=5 if n_cols > 10 else 7,
                        color="white" if value < 0.5 else "black")
    ax.set_xlabel("target (framework device [precision] [threads])")
    ax.set_ylabel("cell")
    figure.colorbar(image, ax=ax, label="relative speed (ratio, 1.0 = best)")
    return finish(figure, df, title)


def _baseline_rows(df: pd.DataFrame, baseline: str) -> tuple[pd.Series, bool]:
    """The rows of the baseline and whether it names a target (else a run)."""
    targets = with_target(df)["target"] if len(df) else df.get("run_id", df.index.to_series())
    by_target = targets == baseline
    if by_target.any():
        return by_target, True
    if "run_id" in df.columns and (df["run_id"] == baseline).any():
        return df["run_id"] == baseline, False
    known = ", ".join(sorted(str(t) for t in targets.dropna().unique())[:10]) or "none"
    raise ConfigurationError(f"baseline {baseline!r} is neither a target nor a run id in these results; "
                             f"give one of the targets ({known}) or a run id")


def summary_scores(df: pd.DataFrame, baseline: str, stats: pd.DataFrame | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, ratios) against ``baseline`` (a target label or a run id).

    ``ratios``: per target and cell, speed ratio = baseline time / target time (or target rate / baseline
    rate): above 1.0 is faster than the baseline. ``scores``: per target (its precision column kept), the
    geometric mean of its ratios, how many cells it covers, and the median reference agreement per
    accuracy metric recorded. A baseline run with several targets contributes its fastest per cell.
    """
    is_base, is_target = _baseline_rows(df, baseline)
    others = speed_medians(df if is_target else df[~is_base], stats=stats if is_target else None)
    base = others[others["target"] == baseline] if is_target else speed_medians(df[is_base])
    if not len(base) or not len(others):
        empty_ratios = pd.DataFrame(columns=[*BY, "metric", "ratio"])
        return pd.DataFrame(columns=["target", "score", "cells"]), empty_ratios
    keys = ["task", "workload_id", "model_id", "metric"]
    base_speed = base.assign(speed=np.where(base["better"] == "lower", 1 / base["median"].astype(float),
                                            base["median"].astype(float)))
    base_speed = base_speed.groupby(keys, as_index=False)["speed"].max().rename(columns={"speed": "base_speed"})
    merged = others.merge(base_speed, on=keys, how="inner")
    merged["ratio"] = np.where(merged["better"] == "lower", 1 / merged["median"].astype(float),
                               merged["median"].astype(float)) / merged["base_speed"]
    ratios = merged[[*BY, "metric", "ratio"]]
    accuracy = [m.name for m in metrics_for(kind="accuracy")]
    acc = cell_statistics(df, accuracy, by=("target",)) if len(df) else pd.DataFrame()
    records = []
    for target, group in ratios.groupby("target", sort=True):
        record = {"target": target, "score": geometric_mean(group["ratio"].tolist()), "cells": len(group)}
        if len(acc):
            for _, row in acc[acc["target"] == target].iterrows():
                record[METRICS[row["metric"]].label] = row["median"]
        records.append(record)
    scores = pd.DataFrame.from_records(records).sort_values("score", ascending=False, ignore_index=True)
    return scores, ratios.reset_index(drop=True)


@plain_text
def summary_score(df: pd.DataFrame, baseline: str, *, stats: pd.DataFrame | None = None,
                  ax: Axes | None = None) -> Figure:
    """Bars: each target's geometric-mean speed ratio against ``baseline``; dots: its per-cell ratios beneath
    the bar; the reference agreement (where recorded) in the target's label."""
    scores, ratios = summary_scores(df, baseline, stats)
    figure, ax = axes(ax, height=max(3.0, 1.5 + 0.35 * max(1, len(scores))))
    title = f"Summary score: geometric mean of speed ratios against {baseline}"
    if not len(scores):
        empty(ax, f"no cell measured both on {baseline} and on another target")
        return finish(figure, df, title)
    positions = np.arange(len(scores))
    ax.barh(positions, scores["score"], color="#7aa6d6", label="geometric mean")
    for i, target in enumerate(scores["target"]):
        part = ratios[ratios["target"] == target]["ratio"].to_numpy(dtype=float)
        ax.scatter(part, np.full(len(part), i), color="black", s=10, zorder=3,
                   label="per-cell ratio" if i == 0 else None)
        ax.text(scores["score"].iloc[i], i, f" {scores['score'].iloc[i]:.2f} ({len(part)} cells)",
                va="center", fontsize=7)
    extra = [c for c in scores.columns if c not in ("target", "score", "cells")]
    labels = [t + "".join(f"\n{c}: {row[c]:.3g}" for c in extra if row[c] == row[c])
              for t, (_, row) in zip(scores["target"], scores.iterrows(), strict=True)]
    ax.set_yticks(positions, labels, fontsize=6.5)
    ax.invert_yaxis()
    ax.axvline(1.0, color="#aa3333", lw=1, ls="--", label="baseline = 1.0")
    ax.set_xlabel("speed ratio against the baseline (ratio; > 1 is faster)")
    ax.legend(fontsize=7, loc="lower right")
    return finish(figure, df, title)
