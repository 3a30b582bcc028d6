"""What the dispatcher can optimise: each task's objectives (declared by the task) plus memory and cold start,
and how one target's rows become samples of an objective (pure functions over a frame)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from genai_harness.analysis.statistics import median
from genai_harness.errors import ConfigurationError
from genai_harness.tasks.base import Objective
from genai_harness.tasks.registry import TASK_KINDS, task_kind

if TYPE_CHECKING:
    import pandas as pd

_EVERY_TASK = (Objective("memory", "MiB", "lower", "peak_rss_mb", "per_run"),
               Objective("cold", "s", "lower", "load_s", "cold"))
"""Objectives of every task: peak memory, and a start plus N calls (the call is the task's ``call_metric``); the
start is the empty-cache load (``load_cold_s``) where the target compiles and recorded it, else ``load_s``."""
_DECLARED: list[tuple[tuple[str, ...], Objective]] = [
    *(((kind.task,), o) for kind in TASK_KINDS.values() for o in kind.objectives),
    *((tuple(TASK_KINDS), o) for o in _EVERY_TASK),
]
_SPECS: dict[str, Objective] = {o.name: o for _tasks, o in _DECLARED}

OBJECTIVES: dict[str, tuple[tuple[str, ...], str, str]] = {o.name: (tasks, o.unit, o.better) for tasks, o in _DECLARED}
"""objective -> (tasks it applies to, unit, which direction is better)."""


def check_objective(task: str, objective: str) -> tuple[str, str]:
    """(unit, direction) of ``objective`` for ``task``; an unknown or mismatched one is a ConfigurationError."""
    if objective not in OBJECTIVES:
        raise ConfigurationError(f"unknown objective {objective!r}; objectives: {', '.join(OBJECTIVES)}")
    tasks, unit, better = OBJECTIVES[objective]
    if task not in tasks:
        fitting = [name for name, (t, _, _) in OBJECTIVES.items() if task in t]
        raise ConfigurationError(f"objective {objective!r} does not apply to task {task!r}; "
                                 f"for {task}: {', '.join(fitting)}")
    return unit, better


def _values(group: pd.DataFrame, column: str) -> list[float]:
    return [float(v) for v in group[column].dropna().tolist()] if column in group.columns else []


def per_run(group: pd.DataFrame, column: str) -> list[float]:
    """A cell-scope metric (load time, peak RSS): one value per run."""
    if column not in group.columns:
        return []
    return [float(v) for v in group.dropna(subset=[column]).drop_duplicates("run_id")[column].tolist()]


def cold_loads(group: pd.DataFrame) -> list[float]:
    """Per run, the load an app's first start pays: ``load_cold_s`` (the empty-cache load of a target that compiles)
    where recorded, else the cell's own ``load_s`` (a target that compiles nothing loads alike every time)."""
    if "load_cold_s" not in group.columns:
        return per_run(group, "load_s")
    cold = group["load_cold_s"].astype("float64")
    if "load_s" in group.columns:
        cold = cold.fillna(group["load_s"].astype("float64"))
    return per_run(group.assign(_cold_load_s=cold), "_cold_load_s")


def interpolate_ttft(group: pd.DataFrame, prompt_tokens: int) -> tuple[list[float], str]:
    """TTFT samples at ``prompt_tokens``, linear between the two nearest measured prompt lengths (pure).

    Outside the measured range it refuses (returns no samples and why): never extrapolated silently.
    """
    data = group.dropna(subset=["ttft_ms", "n_input_tokens"])
    lengths = sorted(int(n) for n in data["n_input_tokens"].unique())
    if not lengths:
        return [], "no TTFT measured"
    if prompt_tokens in lengths:
        return _values(data[data["n_input_tokens"] == prompt_tokens], "ttft_ms"), ""
    below = [n for n in lengths if n < prompt_tokens]
    above = [n for n in lengths if n > prompt_tokens]
    if not below or not above:
        return [], (f"{prompt_tokens} prompt tokens lie outside the measured {lengths[0]}-{lengths[-1]}; "
                    "measure a workload of that length (no extrapolation)")
    low, high = below[-1], above[0]
    weight = (prompt_tokens - low) / (high - low)
    a = np.asarray(_values(data[data["n_input_tokens"] == low], "ttft_ms"))
    b = np.asarray(_values(data[data["n_input_tokens"] == high], "ttft_ms"))
    size = min(a.size, b.size)
    samples = (1 - weight) * np.sort(a)[:size] + weight * np.sort(b)[:size]  # quantile-matched blend
    return samples.tolist(), ""


def objective_samples(group: pd.DataFrame, task: str, objective: str, *, prompt_tokens: int | None = None,
                      new_tokens: int | None = None, calls: int = 10) -> tuple[list[float], str]:
    """Samples of ``objective`` for one target's rows (pure); an empty list comes with the reason."""
    spec = _SPECS[objective]
    if spec.samples == "values":
        return _values(group, spec.column), ""
    if spec.samples == "per_run":
        return per_run(group, spec.column), ""
    if spec.samples == "ttft":
        if prompt_tokens is not None:
            return interpolate_ttft(group, prompt_tokens)
        return _values(group, spec.column), ""
    if spec.samples == "latency":
        if prompt_tokens is None or new_tokens is None:
            raise ConfigurationError("objective 'latency' needs prompt_tokens and new_tokens "
                                     "(--prompt-tokens N --new-tokens M)")
        ttft, why = interpolate_ttft(group, prompt_tokens)
        tpot = _values(group, "tpot_ms")
        if not ttft or not tpot:
            return [], why or "no TPOT measured"
        size = min(len(ttft), len(tpot))
        return (np.sort(ttft)[:size] + (new_tokens - 1) * np.sort(tpot)[:size]).tolist(), ""
    loads, per_call = cold_loads(group), median(_values(group, task_kind(task).call_metric))
    if not loads or math.isnan(per_call):
        return [], "no load time or call latency measured"
    return [load + calls * per_call / 1000.0 for load in loads], ""
