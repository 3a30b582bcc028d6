"""One table of metric metadata: name, unit, task, which direction is better, headline or not.

Each task declares its own metrics (:mod:`genai_harness.tasks`); this module assembles them with the operator
suite's and those every row has. The run summary, ``results``, compare, report and the dispatcher all read this
table; nothing else keeps its own list of headline metrics or units. Memory is MiB (2^20 bytes).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from genai_harness.errors import ConfigurationError
from genai_harness.tasks.instructions import KIND as INSTRUCTIONS
from genai_harness.tasks.instructions import instruction_metric
from genai_harness.tasks.metric import COMMON_METRICS, MetricInfo, metric_info
from genai_harness.tasks.registry import TASK_KINDS
from genai_harness.workloads.operators.spec import OPERATOR_TASK

OPERATOR = OPERATOR_TASK
"""The rows of the attention operator suite, which is not a task of the common interface but shares the table."""
EVERY = (*TASK_KINDS, OPERATOR)

_OPERATOR_METRICS = (
    metric_info("inference_ms", "batch", "ms", (OPERATOR,), "lower", True, "{:.2f}"),
    metric_info("gflops_per_s", "compute", "GFLOP/s", (OPERATOR,), "higher", True, "{:.1f}",
                reciprocal_of="inference_ms"),
    metric_info("peak_fraction", "of matmul peak", "fraction", (OPERATOR,), "higher", False, "{:.2f}"),
    metric_info("ref_max_abs_error", "max abs error", "", (OPERATOR,), "lower", False, "{:.3g}", "accuracy"),
    metric_info("ref_max_rel_error", "max rel error", "", (OPERATOR,), "lower", False, "{:.3g}", "accuracy"),
)
_COMMON_METRICS = (*(dataclasses.replace(m, tasks=EVERY) for m in COMMON_METRICS),
                   instruction_metric("instructions_load", "load instructions", EVERY, scope="cell"))


def _assemble() -> dict[str, MetricInfo]:
    """Every task's metrics and the operator suite's: speed first, then those every row has, then instruction
    counts, energy, accuracy; a metric two row kinds share (``inference_ms``) is listed once with both."""
    declared = [*(kind.metrics for kind in TASK_KINDS.values()), _OPERATOR_METRICS]
    ordered = [m for group in declared for m in group if m.kind == "speed"]
    ordered += [m for m in _COMMON_METRICS if m.kind != INSTRUCTIONS]
    ordered += [m for group in (*declared, _COMMON_METRICS) for m in group if m.kind == INSTRUCTIONS]
    ordered += [m for kind in ("energy", "accuracy") for group in declared for m in group if m.kind == kind]
    table: dict[str, MetricInfo] = {}
    for info in ordered:
        if info.name in table:
            info = dataclasses.replace(table[info.name], tasks=(*table[info.name].tasks, *info.tasks))
        table[info.name] = info
    return table


METRICS: dict[str, MetricInfo] = _assemble()
"""Every metric column, in display order."""


def metric(name: str) -> MetricInfo:
    """The metadata of metric ``name``; an unknown name is a :class:`ConfigurationError` listing the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise ConfigurationError(f"unknown metric {name!r}; known metrics: {', '.join(METRICS)}") from None


def headline_metrics(task: str | None = None) -> tuple[MetricInfo, ...]:
    """The headline metrics (of ``task``, or of every task), in display order."""
    return tuple(m for m in METRICS.values() if m.headline and (task is None or task in m.tasks))


def metrics_for(task: str | None = None, kind: str | None = None) -> tuple[MetricInfo, ...]:
    """Every metric of ``task`` (or all) and of ``kind`` (or all), in display order."""
    return tuple(m for m in METRICS.values()
                 if (task is None or task in m.tasks) and (kind is None or m.kind == kind))


def stretch(record: dict[str, Any], factor: float) -> dict[str, Any]:
    """``record`` as if every timed span had taken ``factor`` times as long (gate calibration; pure).

    Durations (ms, s) grow by ``factor``; rates (tokens/s, items/s, GFLOP/s) shrink by it; counts,
    memory, energy and agreement are unchanged.
    """
    out = dict(record)
    for name, value in record.items():
        info = METRICS.get(name)
        if info is None or value is None or info.kind != "speed":
            continue
        if info.unit in ("ms", "s"):
            out[name] = value * factor
        elif info.unit.endswith("/s"):
            out[name] = value / factor
    return out
