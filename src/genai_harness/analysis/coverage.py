"""The operator coverage matrix: operator variant x runtime/EP -> ok, wrong result, not supported, crashed.

A pure function over the results DataFrame (as read by :class:`~genai_harness.results.ResultStore`), for
``genai-harness results --coverage`` and the dashboards.
"""

from __future__ import annotations

import pandas as pd

from genai_harness.workloads.operators.spec import OPERATOR_TASK

OK = "ok"
WRONG = "wrong result"
NOT_SUPPORTED = "not supported"
CRASHED = "crashed"
# Severity when one cell has several repetitions: the worst outcome seen is what the matrix shows.
_SEVERITY = {OK: 0, WRONG: 1, NOT_SUPPORTED: 2, CRASHED: 3}


def cell_outcome(status: str, within_tolerance: float | None) -> str:
    """The coverage outcome of one result row."""
    if status == "ok":
        return WRONG if within_tolerance is not None and not pd.isna(within_tolerance) \
            and int(within_tolerance) == 0 else OK
    if status in ("crashed", "timeout"):
        return CRASHED
    return NOT_SUPPORTED


def target_label(row: pd.Series) -> str:
    """``runtime/execution_provider@environment``: the runtime that ran the model (the framework in rows
    without a ``runtime``), its execution provider, or the device where the runtime has none (OpenVINO)."""
    runtime = row.get("runtime")
    runtime = runtime if isinstance(runtime, str) and runtime else row["framework"]
    where = row.get("device") if runtime == "openvino" else row.get("execution_provider")
    where = where or row.get("device") or ""
    env = row.get("environment") or "default"
    return f"{runtime}/{where}@{env}"


def coverage_matrix(results: pd.DataFrame) -> pd.DataFrame:
    """Rows: ``workload_id`` of operator cells; columns: runtime/EP labels; values: the worst outcome.

    Rows that are not operator cells, and interrupted or skipped cells (never ran), are left out; a target
    that never ran a workload shows an empty string.
    """
    cols = ["workload_id", "framework", "runtime", "execution_provider", "device", "environment", "status",
            "ref_within_tolerance"]
    if results.empty or "task" not in results:
        return pd.DataFrame()
    ops = results[(results["task"] == OPERATOR_TASK) & ~results["status"].isin(["interrupted", "skipped"])]
    if ops.empty:
        return pd.DataFrame()
    ops = ops.reindex(columns=cols)
    outcome = [cell_outcome(s, w) for s, w in zip(ops["status"], ops["ref_within_tolerance"], strict=True)]
    frame = pd.DataFrame({"workload": ops["workload_id"].to_numpy(),
                          "target": [target_label(r) for _, r in ops.iterrows()],
                          "severity": [_SEVERITY[o] for o in outcome]})
    worst = frame.groupby(["workload", "target"])["severity"].max().unstack("target")
    by_severity = {v: k for k, v in _SEVERITY.items()}
    matrix = worst.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else by_severity[int(v)]))
    matrix.index.name, matrix.columns.name = "operator variant", "runtime/EP"
    return matrix.sort_index().sort_index(axis=1)


def coverage_counts(matrix: pd.DataFrame) -> pd.DataFrame:
    """Per runtime/EP, how many operator variants fall in each outcome (for a summary line)."""
    outcomes = [OK, WRONG, NOT_SUPPORTED, CRASHED]
    return pd.DataFrame({col: [int((matrix[col] == o).sum()) for o in outcomes] for col in matrix.columns},
                        index=outcomes)
