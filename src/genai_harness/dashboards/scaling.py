"""Scaling: TTFT against prompt length and TPOT against context, one line per target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genai_harness.analysis.long_view import with_target
from genai_harness.analysis.metric_info import metric
from genai_harness.dashboards.common import axes, empty, finish, plain_text

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _scaling(df: pd.DataFrame, metric_name: str, x_column: str, x_label: str, title: str,
             ax: Axes | None) -> Figure:
    info = metric(metric_name)
    figure, ax = axes(ax)
    needed = {metric_name, "n_input_tokens"} | ({"n_new_tokens"} if x_column == "context_tokens" else set())
    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    if not needed <= set(df.columns) or not (ok[metric_name].notna() & ok["n_input_tokens"].notna()).any():
        empty(ax, f"no {info.label} recorded against {x_label}")
        return finish(figure, df, title)
    ok = with_target(ok[ok[metric_name].notna() & ok["n_input_tokens"].notna()])
    if x_column == "context_tokens":
        ok = ok.assign(context_tokens=ok["n_input_tokens"] + ok["n_new_tokens"].fillna(0) / 2)
    for target, group in ok.groupby("target", sort=True):
        per_x = group.groupby(x_column)[metric_name]
        medians = per_x.median()
        low, high = per_x.quantile(0.1), per_x.quantile(0.9)
        ax.plot(medians.index, medians.to_numpy(), marker="o", label=str(target))
        ax.fill_between(medians.index, low.to_numpy(), high.to_numpy(), alpha=0.15)
    ax.set_xlabel(x_label)
    ax.set_ylabel(f"{info.title}, median (band p10-p90)")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    ax.grid(alpha=0.3)
    return finish(figure, df, title)


@plain_text
def ttft_vs_prompt(df: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """TTFT (ms) against the prompt length (tokens), one line per target."""
    return _scaling(df, "ttft_ms", "n_input_tokens", "prompt length (tokens)", "TTFT against prompt length", ax)


@plain_text
def tpot_vs_context(df: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """TPOT (ms) against the mean context while decoding (prompt + half the new tokens), one line per target."""
    return _scaling(df, "tpot_ms", "context_tokens", "mean context while decoding (tokens)",
                    "TPOT against context", ax)
