"""What a gate test counts as one unit of a cell's long-view rows (pure functions).

Repetitions inside one worker process share what that process drew, so they are never independent samples: a
test of separate runs counts one value per run (:func:`run_values`), a paired ``ab`` test one per worker call
(:func:`run_medians`, :func:`run_estimates`), and when long-lived workers served several rounds each
(``ab --rounds-per-worker``), one per worker (:func:`worker_sessions`, :func:`session_means`), each knowing
whether its worker loaded first (:func:`session_loaded_first`). Separate runs that
one CI job took in a row share that job's minutes on the machine, so where the rows name jobs the gate averages a
job's runs into one unit (:func:`run_jobs`, :func:`job_means`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
            medians = [float(np.median(values[mask][calls == call])) for call in dict.fromkeys(calls.tolist())]
            sessions = worker_sessions(group[mask])
            if sessions is not None:  # one value per worker: its rounds are not independent of each other
                out.update((f"{run}#{session}", value) for session, value in
                           zip(dict.fromkeys(sessions), session_means(medians, sessions), strict=True))
            else:
                out.update((f"{run}#{index}", value) for index, value in enumerate(medians, 1))
        else:
            out[run] = float(np.median(values[mask]))
    return out


def run_jobs(group: pd.DataFrame) -> dict[str, str]:
    """The job each run of a cell's long-view rows belongs to (its ``job_id``), for the runs that name one
    (pure). A run that names none is left out: it is its own unit (:func:`job_means`)."""
    if "job_id" not in group.columns or "run_id" not in group.columns:
        return {}
    named = group[group["job_id"].notna()]
    return {str(run): str(job) for run, job in zip(named["run_id"], named["job_id"], strict=True)}


def job_means(side: Mapping[str, float], jobs: Mapping[str, str]) -> dict[str, float]:
    """One side of a cell with each job's runs averaged into one unit (pure): ``side`` maps a run to its log
    value, ``jobs`` a run to its job (:func:`run_jobs`); a run of no job stays its own unit, keyed by itself.
    The mean of the logs: a job's geometric mean, the unit a test of jobs counts."""
    grouped: dict[str, list[float]] = {}
    for run, value in side.items():
        if math.isfinite(value):
            grouped.setdefault(f"job {jobs[run]}" if run in jobs else run, []).append(value)
    return {unit: sum(values) / len(values) for unit, values in grouped.items()}


def worker_sessions(group: pd.DataFrame) -> list[str] | None:
    """The ``worker_session`` of each worker call of a cell's long-view rows, in the order of
    :func:`run_medians` (pure); None unless every call names one and some worker served several calls (rounds
    of ``ab --rounds-per-worker``)."""
    if "worker_session" not in group.columns or not len(group):
        return None
    firsts = _calls(group)["worker_session"].first()
    if firsts.isna().any():
        return None
    labels = [str(v) for v in firsts.tolist()]
    return labels if len(set(labels)) < len(labels) else None


def session_loaded_first(group: pd.DataFrame, sessions: Sequence[str] | None) -> list[bool] | None:
    """Per worker session of a cell's long-view rows (``sessions``: their :func:`worker_sessions`), in the order
    :func:`session_means` gives them, whether that session's worker loaded first (``load_position`` 1) or second (2)
    (pure); None where the rows are not sessions' or do not say (rows from before schema 9)."""
    if sessions is None or "load_position" not in group.columns:
        return None
    positions = _calls(group)["load_position"].first()
    if positions.isna().any():
        return None
    first: dict[str, bool] = {}
    for session, position in zip(sessions, positions.tolist(), strict=True):
        first.setdefault(session, int(position) == 1)
    return list(first.values())


def session_means(values: Sequence[float], sessions: Sequence[str] | None) -> list[float]:
    """The geometric mean of each worker session's calls, sessions in the order they first appear (pure).

    Rounds that one worker served share what that process drew (its heap, its threads' placement): they are
    not independent of each other, so a paired test counts one value per worker. The paired log ratio of two
    sessions' geometric means is the mean of their rounds' log ratios."""
    if sessions is None:
        return list(values)
    grouped: dict[str, list[float]] = {}
    for value, session in zip(values, sessions, strict=True):
        grouped.setdefault(session, []).append(value)
    return [math.exp(sum(math.log(v) for v in vs) / len(vs)) if all(v > 0 for v in vs) else math.nan
            for vs in grouped.values()]


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


ONE_JOB_A_SIDE = "one job a side: drift between jobs not measured"
"""What ``tested_on`` adds where every side's runs came from one job: the test counts runs, which share the
job's drift, so it cannot tell that drift from a change (a baseline history of several jobs can)."""

Sides = dict[Any, tuple[dict[str, float], dict[str, float]]]
"""Per cell and metric, the (baseline, current) log values keyed by unit."""


def job_sides(sides: Sides, jobs: Mapping[Any, tuple[Mapping[str, str], Mapping[str, str]]]
              ) -> tuple[Sides, str, str]:
    """The units a test of separate runs counts (pure): ``sides`` (per cell, run -> log value), what they are
    (``runs`` or ``jobs``) and a note for ``tested_on`` ("" or :data:`ONE_JOB_A_SIDE`), given ``jobs`` (per cell,
    each side's run -> job: :func:`run_jobs`).

    Where no job holds more than one run, runs are the units (``runs``). Where jobs group runs and some side of some
    cell has two jobs or more (a baseline history of jobs), each job's runs are averaged into one unit and the
    spread between jobs judges the change (``jobs``): runs in a row share their job's drift, and counting them as
    independent called unchanged code a regression in 3-13.5 % of comparisons here (benchmarks/RESULTS.md, "Runs
    of a side taken in a row", "The job level, a second pool"). Where jobs group runs but every side is one job,
    nothing measures the drift between jobs: runs stay the units and the label says so (:data:`ONE_JOB_A_SIDE`)."""
    grouped: Sides = {key: (job_means(base, jobs[key][0]), job_means(cur, jobs[key][1]))
                      for key, (base, cur) in sides.items() if key in jobs}
    finite = {key: tuple(sum(math.isfinite(v) for v in side.values()) for side in pair) for key, pair in sides.items()}
    if not any(len(side) < finite[key][i] for key, pair in grouped.items() for i, side in enumerate(pair)):
        return sides, "runs", ""
    if not any(len(side) >= 2 for pair in grouped.values() for side in pair):
        return sides, "runs", ONE_JOB_A_SIDE
    return {**sides, **grouped}, "jobs", ""
