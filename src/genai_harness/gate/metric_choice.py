"""Which metrics a gate compares when not told: the headline speed metrics for separate runs, and for a paired
gate (``ab``) the same with the load's CPU time in place of its wall time; and which a session's load order weighs
on (pure; it reads frames but does not import pandas)."""

from __future__ import annotations

from typing import Any

from genai_harness.analysis.metric_info import METRICS, headline_metrics


def default_metrics() -> tuple[str, ...]:
    """The metrics a gate compares unless told otherwise: the headline speed metrics (load and memory too)."""
    return tuple(m.name for m in headline_metrics())


PAIRED_LOAD_METRIC = "load_cpu_s"
"""What a paired gate (``ab``) compares of a load by default, in place of ``load_s``: the load's CPU time. Each fresh
worker loads once, so a round has one load a side; on a busy machine that load's wall time is mostly whether the
process got a core, which no pairing cancels (the two sides' luck is independent). On loaded pools the per-round
log ratio's SD was 0.22-0.33 for the wall time and 0.084 for the loading thread's CPU time, and self-sized jobs gating
the CPU time needed 23.5 rounds where the wall time's needed 180 (benchmarks/RESULTS.md, "ab under load: the load's
CPU time"). ``--metric load_s`` gates the wall time as well."""


def paired_default_metrics(*frames: Any) -> tuple[str, ...]:
    """The metrics a paired gate compares unless told otherwise: :func:`default_metrics` with the load's CPU time
    (:data:`PAIRED_LOAD_METRIC`) in place of its wall time, where every one of ``frames`` (results DataFrames) carries
    it: rows of schema 8 on; with none given, the CPU time."""
    if not all(PAIRED_LOAD_METRIC in f.columns and f[PAIRED_LOAD_METRIC].notna().any() for f in frames):
        return default_metrics()
    return tuple(PAIRED_LOAD_METRIC if name == "load_s" else name for name in default_metrics())


def load_ordered(name: str) -> bool:
    """Whether a session's load order weighs on metric ``name`` (pure): a timing each worker takes once, at its load
    (``load_s``, ``load_cpu_s``, the cold-start loads). In an ``ab`` session one worker loads right after the other,
    and the one loading second spent 8-12 % less CPU on onnxruntime-genai (both pools of benchmarks/RESULTS.md,
    "Sessions paused, and their order"); the order alternates from session to session, so it cancels in the mean
    but not in the spread, which it doubled. A round's timings are balanced within the session (ABBA from the first
    loader), so only these need the order taken out (``analysis.paired.crossover_log_ratio_test``)."""
    info = METRICS.get(name)
    return info is not None and info.scope == "cell" and info.kind == "speed"
