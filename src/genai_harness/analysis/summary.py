"""The table that closes a run and that ``results --run`` prints: one line per cell.

Columns come from the one metric table (:mod:`genai_harness.analysis.metric_info`); each value is the
median of the cell's repetitions with its 95 % bootstrap interval when there are several.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_harness.analysis.keys import cell_label, runtime_note, short_weight_precision, target_label, text_value
from genai_harness.analysis.long_view import cell_statistics
from genai_harness.analysis.metric_info import METRICS, MetricInfo, headline_metrics
from genai_harness.analysis.statistics import bootstrap_ci, median
from genai_harness.tables import format_table


def _present(value: Any) -> bool:
    """False for None, NaN and pandas' NA (rows may come from the store as well as from a run)."""
    if value is None:
        return False
    try:
        return bool(value == value)
    except TypeError:
        return False


def _values(group: list[dict[str, Any]], column: str) -> list[float]:
    return [float(r[column]) for r in group if r.get("status") == "ok" and _present(r.get(column))]


def _with_interval(info: MetricInfo, values: list[float], intervals: bool) -> str:
    if not values:
        return ""
    text = info.format(median(values))
    if intervals and len(values) > 1:
        low, high = bootstrap_ci(values)
        if low != high:
            text += f" [{info.format(low)}-{info.format(high)}]"
    return text


def cell_summary(rows: list[dict[str, Any]]) -> str:
    """A cell's repetitions in one line: median of each headline metric with its unit (pure)."""
    parts = []
    for info in headline_metrics():
        values = _values(rows, info.name)
        if values:
            parts.append(f"{info.label} {info.format(median(values))} {info.unit}")
    return ", ".join(parts)


def summary_table(rows: Iterable[dict[str, Any]], *, intervals: bool = True) -> str:
    """Group rows by cell (target, workload, model) and show status, repetitions and median metrics (pure).

    With ``intervals`` each median carries its 95 % bootstrap interval ``[low-high]``.
    """
    cells: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = (target_label(row) + runtime_note(row), row["workload_id"], row["model_id"])
        cells.setdefault(key, []).append(row)
    shown = [m for m in headline_metrics() if any(_values(g, m.name) for g in cells.values())]
    # the weights and KV cache beside the target's compute precision, where the rows record them (schema 5 on)
    precisions = [(c, title) for c, title in (("weight_precision", "weights"), ("kv_cache_precision", "KV cache"))
                  if any(_present(r.get(c)) for g in cells.values() for r in g)]
    table_rows = []
    for key, group in cells.items():
        statuses = {r["status"] for r in group}
        status = next(iter(statuses)) if len(statuses) == 1 else "/".join(sorted(statuses))
        reps = sum(1 for r in group if r["status"] == "ok")
        numerics = [_first(group, c) for c, _title in precisions]
        table_rows.append((*key, *numerics, status, reps,
                           *(_with_interval(m, _values(group, m.name), intervals) for m in shown)))
    headers = ["target", "workload", "model", *(title for _c, title in precisions), "status", "reps",
               *(m.title for m in shown)]
    return format_table(headers, table_rows, max_width=48)


def _first(group: list[dict[str, Any]], column: str) -> str:
    """The cell's value of a per-cell column (the weights shortened: ``int4 asym b32``), "" where unrecorded."""
    value = next((text_value(r.get(column)) for r in group if _present(r.get(column))), "")
    return short_weight_precision(value) if column == "weight_precision" else value


def statistics_table(frame: Any, metrics: list[str] | None = None) -> str:
    """Per cell and metric of a results DataFrame: n, median, p90, p99 and the median's 95 % CI (pure)."""
    stats = cell_statistics(frame, metrics or [m.name for m in headline_metrics()])
    rows = []
    for r in stats.to_dict("records"):
        info = METRICS[r["metric"]]
        interval = f"{info.format(r['ci_low'])}-{info.format(r['ci_high'])}" if r["n"] > 1 else ""
        rows.append((r["target"], r["workload_id"], r["model_id"], info.title, r["n"], info.format(r["median"]),
                     info.format(r["p90"]), info.format(r["p99"]), interval))
    return format_table(["target", "workload", "model", "metric", "n", "median", "p90", "p99", "95% CI"], rows,
                        max_width=48)


def failures(rows: Iterable[dict[str, Any]]) -> list[str]:
    """One line per cell that did not succeed, with its reason (skipped cells say why they did not apply)."""
    return [f"{cell_label(r)}: {r['status']}: {r['error']}" for r in rows if r["status"] != "ok"]
