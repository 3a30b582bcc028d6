"""Inter-token latency per token position: how the gap between generated tokens moves along the answer
(a KV cache growing, a slow first decode steps, a periodic stall), one line per target."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genai_harness.analysis.keys import text_value
from genai_harness.analysis.long_view import with_target
from genai_harness.dashboards.common import WIDTH_IN, axes, cell_styles, empty, finish, legend_width, plain_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLUMN = "itl_by_position_ms"
NOTHING = "no per-position times recorded"
POSITION_COLUMNS = ("target", "workload_id", "model_id", "position", "gap_ms", "runs")


def _gaps(value: Any) -> list[float]:
    """A stored ``itl_by_position_ms`` (JSON text, or a list) as floats; [] for null, empty or unreadable."""
    if isinstance(value, list | tuple | np.ndarray):
        raw = list(value)
    else:
        text = text_value(value)
        if not text:
            return []
        try:
            raw = json.loads(text)
        except ValueError:
            return []
    if not isinstance(raw, list):
        return []
    out = []
    for v in raw:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(np.nan)
    return out


def itl_position_medians(df: pd.DataFrame) -> pd.DataFrame:
    """Per target, workload, model and token position: the median over runs of each run's per-position gap
    (a run's value is already the median over its repetitions), and how many runs had that position (pure).

    Position 1 is the gap between generated tokens 1 and 2. Only ``ok`` rows count; a cell's value is read
    once per run (it repeats on each repetition's row). Rows where the column is null, and frames without
    it (stores older than schema 4), contribute nothing: an empty frame when nothing was recorded."""
    if COLUMN not in df.columns or not len(df):
        return pd.DataFrame(columns=list(POSITION_COLUMNS))
    rows = df[df["status"] == "ok"] if "status" in df.columns else df
    rows = rows[rows[COLUMN].notna()]
    if not len(rows):
        return pd.DataFrame(columns=list(POSITION_COLUMNS))
    identity = [c for c in ("run_id", "machine_fingerprint", "framework", "device", "environment",
                            "execution_provider", "precision", "threads", "workload_id", "model_id")
                if c in rows.columns]
    cells = with_target(rows.drop_duplicates(identity)[[*identity, COLUMN]])
    for column in ("workload_id", "model_id"):
        if column not in cells.columns:
            cells[column] = ""
    records = []
    for (target, workload, model), group in cells.groupby(["target", "workload_id", "model_id"], sort=True):
        series = [g for g in (_gaps(v) for v in group[COLUMN]) if g]
        if not series:
            continue
        grid = np.full((len(series), max(len(s) for s in series)), np.nan)
        for i, s in enumerate(series):
            grid[i, :len(s)] = s
        runs = np.sum(np.isfinite(grid), axis=0)
        keep = runs > 0
        medians = np.full(grid.shape[1], np.nan)
        medians[keep] = np.nanmedian(grid[:, keep], axis=0)
        for position in np.flatnonzero(keep):
            records.append((str(target), str(workload), str(model), int(position) + 1, float(medians[position]),
                            int(runs[position])))
    return pd.DataFrame.from_records(records, columns=list(POSITION_COLUMNS))


def _default_cell(medians: pd.DataFrame) -> tuple[str, str]:
    """The workload and model measured per position on the most targets (ties: first by name)."""
    counts = medians.groupby(["workload_id", "model_id"])["target"].nunique()
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])  # type: ignore[return-value]


@plain_text
def itl_by_position(df: pd.DataFrame, *, workload: str | None = None, model: str | None = None,
                    ax: Axes | None = None) -> Figure:
    """One line per target: the inter-token gap (ms) at each token position, for one workload and model
    (default: the one measured per position on the most targets). Values: :func:`itl_position_medians`.

    A frame without per-position times (null column, or a store older than schema 4) gives a figure that
    says so, never an error."""
    figure, given = axes(ax)
    medians = itl_position_medians(df)
    if workload is not None:
        medians = medians[medians["workload_id"] == workload]
    if model is not None:
        medians = medians[medians["model_id"] == model]
    if not len(medians):
        empty(given, NOTHING + (f" for {workload or 'any workload'}, {model or 'any model'}"
                                if workload or model else ""))
        return finish(figure, df, "Inter-token latency per token position")
    if workload is None or model is None:
        workload, model = _default_cell(medians)
        medians = medians[(medians["workload_id"] == workload) & (medians["model_id"] == model)]
    styles = cell_styles(medians["target"], [workload])
    if ax is None:  # wider, for the legend beside the data
        figure.set_figwidth(WIDTH_IN + legend_width(styles))
    for target, line in medians.groupby("target", sort=True):
        given.plot(line["position"], line["gap_ms"], color=styles.colors[str(target)], lw=1.2,
                   marker="o" if len(line) <= 64 else None, ms=2.5)
    given.set_xlabel("token position i (gap between generated tokens i and i+1; tokens)")
    given.set_ylabel("inter-token gap (ms), median")
    given.set_ylim(bottom=0)
    styles.legend(given)
    given.grid(alpha=0.3)
    runs = f"{medians['runs'].min()}" if medians["runs"].min() == medians["runs"].max() else \
        f"{medians['runs'].min()}-{medians['runs'].max()}"
    return finish(figure, df, f"Inter-token latency per token position: {workload} | {model}\n"
                              f"(median over each run's repetitions, then over {runs} run(s))")
