"""One value per run or worker call of a cell's long-view rows: the units a comparison of separate runs, or of an
``ab`` job's rounds, counts (pure functions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from genai_harness.analysis.long_view import call_index
from genai_harness.analysis.statistics import round_estimate

if TYPE_CHECKING:
    import pandas as pd


def run_values(group: pd.DataFrame) -> dict[str, float]:
    """One median per run of a cell's long-view rows, keyed by run (pure): the unit a test of separate runs
    counts. A run id whose repetition numbers repeat holds several worker calls (an ``ab`` side: one call a
    round), each its own unit; otherwise the run id is the unit, whatever order its rows came back in (a
    PostgreSQL read need not keep the stored order, and splitting a run at each repetition 0 would count one
    process's repetitions as separate runs)."""
    if "run_id" not in group.columns:
        return {}
    runs = group["run_id"].astype(str).to_numpy()
    values = group["value"].to_numpy(dtype=float)
    repetitions = group["repetition"].to_numpy() if "repetition" in group.columns else None
    out: dict[str, float] = {}
    for run in dict.fromkeys(runs.tolist()):
        mask = runs == run
        if repetitions is not None and len(set(repetitions[mask].tolist())) < int(mask.sum()):
            calls = call_index(group[mask])
            for call in dict.fromkeys(calls.tolist()):
                out[f"{run}#{call}"] = float(np.median(values[mask][calls == call]))
        else:
            out[run] = float(np.median(values[mask]))
    return out


def run_estimates(group: pd.DataFrame, estimator: str, *, lower_is_better: bool = True) -> list[float]:
    """One :func:`~genai_harness.analysis.statistics.round_estimate` per worker call, cut as :func:`run_medians`."""
    if "run_id" not in group.columns:
        return []
    return [round_estimate(values, estimator, lower_is_better=lower_is_better)
            for values in _calls(group)["value"].agg(list).tolist()]


def _calls(group: pd.DataFrame) -> Any:
    """``group`` grouped by worker call (``analysis.call_index``), in stored order."""
    return group.groupby(call_index(group), sort=False)


def run_medians(group: pd.DataFrame) -> list[float]:
    """One median per worker call of a cell's long-view rows (the unit a between-process test counts).

    A call's repetitions are numbered from 0 and stored together, so a repetition 0 (or a new run id)
    starts the next call: a plain run gives one median per run, an ``ab`` side (one run id, one call per
    round) one per round, rather than pooling every round's repetitions as if independent.
    """
    if "run_id" not in group.columns:
        return []
    return [float(v) for v in _calls(group)["value"].median().tolist()]
