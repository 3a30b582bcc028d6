"""The table that closes a run: one line per cell, medians of its repetitions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_harness.harness.metrics import median
from genai_harness.tables import format_table

COLUMNS = (("ttft_ms", "TTFT ms", "{:.1f}"), ("tpot_ms", "TPOT ms", "{:.2f}"), ("decode_tps", "tok/s", "{:.0f}"),
           ("image_ms", "image ms", "{:.0f}"), ("step_ms", "step ms", "{:.1f}"),
           ("inference_ms", "batch ms", "{:.1f}"), ("items_per_s", "items/s", "{:.1f}"),
           ("load_s", "load s", "{:.2f}"), ("peak_rss_mb", "RSS MB", "{:.0f}"))


def _present(value: Any) -> bool:
    """False for None, NaN and pandas' NA (rows may come from the store as well as from a run)."""
    if value is None:
        return False
    try:
        return bool(value == value)
    except TypeError:
        return False


def summary_table(rows: Iterable[dict[str, Any]]) -> str:
    """Group rows by cell and show status, repetitions and median metrics (pure)."""
    cells: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        env = "" if row["environment"] == "default" else f"@{row['environment']}"
        key = (row["framework"], row["device"] + env, row["workload_id"], row["model_id"])
        cells.setdefault(key, []).append(row)
    table_rows = []
    for key, group in cells.items():
        statuses = {r["status"] for r in group}
        status = "ok" if statuses == {"ok"} else "/".join(sorted(statuses))
        values = []
        for column, _, fmt in COLUMNS:
            present = [r[column] for r in group if _present(r.get(column))]
            values.append(fmt.format(median(present)) if present else "")
        reps = sum(1 for r in group if r["status"] == "ok")
        precision = "/".join(sorted({str(r["precision"]) for r in group if _present(r.get("precision"))}))
        table_rows.append((*key, status, precision, reps, *values))
    headers = ["framework", "device", "workload", "model", "status", "precision", "reps",
               *(h for _, h, _ in COLUMNS)]
    return format_table(headers, table_rows, max_width=40)


def failures(rows: Iterable[dict[str, Any]]) -> list[str]:
    """One line per failed or skipped cell with its reason."""
    return [f"{r['framework']} {r['device']} | {r['workload_id']} | {r['model_id']}: {r['status']}: {r['error']}"
            for r in rows if r["status"] != "ok"]
