"""The export matrix: every export of one checkpoint x every runtime/EP that took its format (issue 21).

Pure functions over the results DataFrame, for ``genai-harness results --coverage`` and the report, like the
operator coverage matrix (:mod:`genai_harness.analysis.coverage`). A row of the matrix is an export (the model
variant and the exporter that made it), a column a runtime/EP target; a cell says ``ok`` (identical to the
checkpoint's reference tokens), ``ok, diverges at N`` (ran; its greedy tokens leave the reference at token N),
``refused``/``failed`` (the runtime said no at load or run: its words are in :func:`export_table`), ``crashed``
(the process died or hung) or ``export failed`` (the exporter itself failed: no runtime ran it). An export a
target cannot take (its format) is blank.
"""

from __future__ import annotations

import json

import pandas as pd

from genai_harness.analysis.coverage import target_label
from genai_harness.workloads.op_census import census_summary

EXPORT_FAILED = "export failed"
_SEVERITY = {"ok": 0, "ok, diverges": 1, "failed": 2, "crashed": 3, EXPORT_FAILED: 4}


def is_export_row(results: pd.DataFrame) -> pd.Series:
    """Rows of text cells that carry export provenance (schema 6 on), skipped and interrupted ones left out."""
    if results.empty or "exporter" not in results or "task" not in results:
        return pd.Series(False, index=results.index)
    return (results["task"] == "text2text") & results["exporter"].notna() \
        & ~results["status"].isin(["interrupted", "skipped"])


def _text(row: pd.Series, column: str) -> str:
    value = row.get(column)
    return value if isinstance(value, str) else ""


def export_label(row: pd.Series) -> str:
    """``model_id [exporter version]``: one export of the family."""
    version = _text(row, "exporter_version")
    return f"{row['model_id']} [{_text(row, 'exporter') or 'unknown exporter'}{' ' + version if version else ''}]"


def _target(row: pd.Series) -> str:
    return "(no runtime)" if _text(row, "error_type") == "ExportFailed" else target_label(row)


def outcome(row: pd.Series) -> str:
    """The matrix word for one row (pure)."""
    status = _text(row, "status")
    if _text(row, "error_type") == "ExportFailed":
        return EXPORT_FAILED
    if status in ("crashed", "timeout"):
        return "crashed"
    if status != "ok":
        return "failed"
    first, agreement = row.get("ref_first_divergence"), row.get("ref_token_agreement")
    if agreement is not None and not pd.isna(agreement) and float(agreement) < 1.0 \
            and first is not None and not pd.isna(first):
        return f"ok, diverges at {int(first)}"
    return "ok"


def export_matrix(results: pd.DataFrame) -> pd.DataFrame:
    """Rows: exports (:func:`export_label`); columns: runtime/EP targets; values: the worst outcome seen."""
    rows = results[is_export_row(results)]
    if rows.empty:
        return pd.DataFrame()
    frame = pd.DataFrame({"export": [export_label(r) for _, r in rows.iterrows()],
                          "target": [_target(r) for _, r in rows.iterrows()],
                          "outcome": [outcome(r) for _, r in rows.iterrows()]})
    frame["severity"] = [_SEVERITY["ok, diverges" if o.startswith("ok, diverges") else o] for o in frame["outcome"]]
    worst = frame.sort_values("severity").groupby(["export", "target"])["outcome"].last().unstack("target")
    matrix = worst.fillna("")
    matrix.index.name, matrix.columns.name = "export", "runtime/EP"
    return matrix.sort_index().sort_index(axis=1)


def _median(group: pd.DataFrame, column: str) -> float | None:
    if column not in group:
        return None
    values = pd.to_numeric(group[column], errors="coerce").dropna()
    return float(values.median()) if len(values) else None


def _first(group: pd.DataFrame, column: str) -> object:
    if column not in group:
        return None
    values = group[column].dropna()
    return values.iloc[0] if len(values) else None


def export_table(results: pd.DataFrame) -> pd.DataFrame:
    """One line per export x target: outcome, the runtime's words when it refused, agreement with the checkpoint,
    medians of TTFT / TPOT, load time, peak memory, file size, export time, op census and EP placement."""
    rows = results[is_export_row(results)]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(_export=[export_label(r) for _, r in rows.iterrows()],
                       _target=[_target(r) for _, r in rows.iterrows()])
    lines = []
    for (export, target), group in rows.groupby(["_export", "_target"], sort=True):
        worst = max((outcome(r) for _, r in group.iterrows()),
                    key=lambda o: _SEVERITY["ok, diverges" if o.startswith("ok, diverges") else o])
        census = _first(group, "op_census")
        size = _median(group, "model_bytes")
        lines.append({
            "export": export, "target": target, "outcome": worst,
            "error": _first(group[group["status"] != "ok"], "error") if worst not in ("ok",) else None,
            "ref_token_agreement": _median(group, "ref_token_agreement"),
            "ref_first_divergence": _median(group, "ref_first_divergence"),
            "ref_answer_share": _median(group, "ref_answer_share"),
            "ttft_ms": _median(group, "ttft_ms"), "tpot_ms": _median(group, "tpot_ms"),
            "load_s": _median(group, "load_s"), "peak_rss_mb": _median(group, "peak_rss_mb"),
            "model_mb": size / 2**20 if size is not None else None, "export_s": _median(group, "export_s"),
            "ops": census_summary(json.loads(census)) if isinstance(census, str) else None,
            "ep_node_share": _median(group, "ep_node_share"), "ep_fallback": _first(group, "ep_fallback"),
        })
    return pd.DataFrame(lines)
