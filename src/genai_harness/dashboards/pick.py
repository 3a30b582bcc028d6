"""The dispatcher's pick for one task and objective: the winner and the runners-up with their intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from genai_harness.dashboards.common import axes, empty, finish, plain_text

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@plain_text
def pick_figure(decision: Any, df: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Bars of the expected value (median, 95 % CI) of the winner (highlighted) and every alternative of a
    ``genai_harness.dispatch.decision.Decision``; an excluded alternative's reason is printed on its bar."""
    candidates = ([decision.winner] if decision.winner else []) + list(decision.alternatives)
    figure, ax = axes(ax, height=max(2.5, 1.4 + 0.35 * max(1, len(candidates))))
    title = f"Dispatcher pick: {decision.task}, {decision.model}, objective {decision.objective}"
    if not candidates:
        empty(ax, f"no candidate: {decision.reason}")
        return finish(figure, df, title)
    positions = np.arange(len(candidates))
    mids = np.array([c.expected for c in candidates], dtype=float)
    lows = np.clip(mids - np.array([c.ci_low for c in candidates], dtype=float), 0, None)
    highs = np.clip(np.array([c.ci_high for c in candidates], dtype=float) - mids, 0, None)
    colors = ["#2e8b57" if decision.winner is not None and i == 0 else "#9aa7b4" for i in range(len(candidates))]
    ax.barh(positions, mids, xerr=[lows, highs], color=colors, capsize=3)
    for i, c in enumerate(candidates):
        note = "winner" if decision.winner is not None and i == 0 else (c.reason or "runner-up")
        ax.text(mids[i] + highs[i], i, f"  {note}", va="center", fontsize=6.5)
    ax.set_yticks(positions, [c.target for c in candidates], fontsize=7)
    ax.invert_yaxis()
    unit = candidates[0].unit
    ax.set_xlabel(f"expected {decision.objective} ({unit}), median with 95 % CI")
    return finish(figure, df, title)
