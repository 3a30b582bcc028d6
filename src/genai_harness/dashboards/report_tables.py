"""The report's tables, one section each: numerics, cold start, failed cells, compare verdicts, the export and
operator-coverage matrices, the assistant suite, accuracy against the reference, and the machine. Every value
reaches the page through :mod:`.markup` (escaped, attributes included)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from genai_harness.analysis.assistant import ASSISTANT_HEADERS, assistant_scores, assistant_table
from genai_harness.analysis.coverage import coverage_counts, coverage_matrix
from genai_harness.analysis.export_matrix import export_matrix, export_table
from genai_harness.analysis.keys import CELL_LABEL_COLUMNS, cell_label, text_value
from genai_harness.analysis.long_view import cold_start_by_target, numerics_by_cell, row_labels
from genai_harness.dashboards.common import caption_text
from genai_harness.dashboards.markup import Markup, element, join

if TYPE_CHECKING:
    import pandas as pd


def table(frame: pd.DataFrame, columns: list[str] | None = None, classes: dict[int, str] | None = None) -> Markup:
    """``frame`` as an HTML table (numbers to 4 significant digits, right-aligned; ``classes`` per row index)."""
    columns = columns or list(frame.columns)
    head = element("tr", *(element("th", c) for c in columns))
    rows = []
    for i, record in enumerate(frame[columns].to_dict("records")):
        cells = []
        for c in columns:
            value = record[c]
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            text = f"{value:.4g}" if isinstance(value, float) else text_value(value)
            cells.append(element("td", text, class_="num" if numeric else None))
        rows.append(element("tr", *cells, class_=classes.get(i) if classes else None))
    return element("table", head, *rows)


def numerics_section(df: pd.DataFrame) -> Markup:
    """Per target and model, the three precisions (:func:`~genai_harness.analysis.long_view.numerics_by_cell`)."""
    frame = numerics_by_cell(df)
    if not len(frame):
        return Markup("")
    return folded("Numerics per cell", element("p", "precision: what the runtime computes at; weight_precision: what "
                   "the weights are for compute, read from the model files; kv_cache_precision: read back from the "
                   "runtime."), table(frame.head(500)))


def cold_start_section(df: pd.DataFrame) -> Markup:
    """Per target that compiles and model: compile time, empty- and warm-cache loads, cache size (medians)."""
    frame = cold_start_by_target(df)
    if not len(frame):
        return Markup("")
    return folded(f"Cold start ({len(frame)} targets that compile)", element(
        "p", "compile: a load with no cache; load, empty cache: an app's first start (what the dispatcher's cold "
        "objective counts); load, warm cache: every later start; compiled cache: its size on disk (MiB). Each load "
        "is the first in a fresh process. cache_key: the cache folder, per runtime version, device and driver."),
        table(frame.head(500)))


def failed_section(df: pd.DataFrame) -> Markup:
    """Every cell that did not finish ok (failed, timeout, crashed, interrupted), with its error."""
    if "status" not in df.columns:
        return element("p", "No status recorded.")
    bad = df[~df["status"].isin(["ok", "skipped"])]
    if not len(bad):
        return element("p", "No failed cell.")
    bad = bad.assign(cell=row_labels(bad, CELL_LABEL_COLUMNS, cell_label))
    first = bad.drop_duplicates(["run_id", "cell", "status", "error"]) if "error" in bad.columns else bad
    columns = [c for c in ("run_id", "cell", "status", "error_type", "error") if c in first.columns]
    return table(first.head(500), columns)


def verdict_section(comparison: pd.DataFrame | None, baseline_label: str | None) -> Markup:
    """The compare verdicts per cell and metric (regressions highlighted), or a note without a baseline."""
    if comparison is None:
        return element("p", "No baseline given (", element("code", "--baseline STORE[@RUN]"),
                       " adds the compare verdicts).")
    if not len(comparison):
        return element("p", f"Nothing in common with the baseline {baseline_label}.")
    counts = comparison["verdict"].value_counts().to_dict()
    summary = ", ".join(f"{v}: {n}" for v, n in sorted(counts.items()))
    order = comparison.sort_values(["verdict", "target"]).reset_index(drop=True)
    classes = {i: v for i, v in enumerate(order["verdict"]) if v in ("regression", "improvement")}
    columns = ["target", "task", "workload_id", "model_id", "metric", "unit", "baseline_median", "current_median",
               "ratio", "ratio_ci_low", "ratio_ci_high", "p_value", "verdict"]
    return join([element("p", f"Against {baseline_label}: {summary}."), table(order, columns, classes)])


_OUTCOME_CLASS = {"ok": "ok", "wrong result": "wrong", "not supported": "unsupported", "crashed": "crashed",
                  "failed": "unsupported", "export failed": "crashed"}


def export_section(df: pd.DataFrame) -> Markup:
    """The export matrix (export x runtime/EP, as ``results --coverage`` prints it) and its per-cell table, of the
    exports suite's cells (its ``export-`` workloads, and failed exports); ``""`` when none ran."""
    if df.empty or "workload_id" not in df:
        return Markup("")
    failed_export = df["error_type"] == "ExportFailed" if "error_type" in df else False
    df = df[df["workload_id"].astype(str).str.startswith("export-") | failed_export]
    matrix = export_matrix(df)
    if matrix.empty:
        return Markup("")
    head = element("tr", *(element("th", c) for c in ["export", *matrix.columns]))
    rows = [element("tr", element("td", export),
                    *(element("td", o, class_=_OUTCOME_CLASS.get(o.split(",")[0], "wrong" if o else "none"))
                      for o in outcomes))
            for export, outcomes in matrix.iterrows()]
    return folded(f"Export matrix ({len(matrix)} exports on {len(matrix.columns)} runtime/EP targets)",
                   element("p", "One checkpoint through every exporter, on every runtime/EP that takes its format: "
                                "ok (the checkpoint's reference tokens exactly), ok, diverges at N (greedy tokens "
                                "leave the reference at token N), failed (the runtime refused: its words below), "
                                "crashed, export failed (the exporter's words below). Blank: the target cannot take "
                                "that format."),
                   element("table", head, *rows), table(export_table(df)), open_=True)


def coverage_section(df: pd.DataFrame) -> Markup:
    """The operator coverage matrix (operator variant x runtime/EP: ok, wrong result, not supported, crashed)
    with the counts per runtime/EP, as ``results --coverage`` prints it; ``""`` when no operator cell ran."""
    matrix = coverage_matrix(df)
    if matrix.empty:
        return Markup("")
    counts = coverage_counts(matrix)
    head = element("tr", *(element("th", c) for c in ["operator variant", *matrix.columns]))
    rows = [element("tr", element("td", variant),
                    *(element("td", o, class_=_OUTCOME_CLASS.get(o, "none")) for o in outcomes))
            for variant, outcomes in matrix.iterrows()]
    summary = table(counts.rename_axis("outcome").reset_index())
    return folded(f"Operator coverage ({len(matrix)} operator variants on {len(matrix.columns)} runtime/EP targets)",
                   element("p", "A cell shows the worst outcome of its repetitions (wrong result: outside the stated "
                                "tolerance of onnx's ReferenceEvaluator)."),
                   summary, element("table", head, *rows))


def assistant_section(df: pd.DataFrame) -> Markup:
    """The client-assistant score per target and model (geometric means over MLPerf Client's categories) with its
    parts beneath; ``""`` when no assistant workload ran."""
    scores = assistant_scores(df.to_dict("records")) if "workload_id" in df.columns else []
    if not scores:
        return Markup("")
    grid = element("table", element("tr", *(element("th", h) for h in ASSISTANT_HEADERS)),
                   *(element("tr", *(element("td", cell) for cell in row)) for row in assistant_table(scores)))
    return folded("Client assistant score", element("p", "Per target and model: the geometric mean over MLPerf "
                   "Client's categories of the median TTFT and of the median decode rate, each category beneath."),
                   grid, open_=True)


ACCURACY_COLUMNS = ("family", "model_weights", "ref_source", "ref_token_agreement", "ref_first_divergence",
                    "ref_answer_share", "ref_questions", "ref_nll", "ref_nll_checkpoint", "ref_error")


def accuracy_section(df: pd.DataFrame) -> Markup:
    """Per cell, what its reference check found (agreement with the float32 checkpoint or the f32 runtime, the
    question-set score, NLL) or why it had none; ``""`` when no cell was checked."""
    if "ref_source" not in df.columns or not df["ref_source"].notna().any():
        return Markup("")
    checked = df[df["ref_source"].notna()]
    checked = checked.assign(cell=row_labels(checked, CELL_LABEL_COLUMNS, cell_label))
    first = checked.drop_duplicates(["run_id", "cell"], keep="last")
    columns = ["cell", *(c for c in ACCURACY_COLUMNS if c in first.columns)]
    return folded("Accuracy beside speed", element("p", "Each checked cell against its reference: the float32 "
                   "checkpoint (greedy token agreement, first divergent token, share of the question set answered, "
                   "NLL of a fixed text) or the same runtime at f32; random weights give agreement only."),
                   table(first, columns), open_=True)


def machine_section(df: pd.DataFrame) -> Markup:
    """The machine profile of the newest row of each machine (pretty JSON) and the caption of the data."""
    parts = [element("pre", caption_text(df))]
    if "machine_profile" in df.columns and len(df):
        key = "machine_fingerprint" if "machine_fingerprint" in df.columns else "machine_profile"
        for _, row in df.drop_duplicates(key, keep="last").head(5).iterrows():
            try:
                profile = json.loads(text_value(row["machine_profile"]) or "{}")
            except ValueError:
                profile = {"raw": text_value(row["machine_profile"])}
            parts.append(element("details", element("summary", f"machine {text_value(row.get(key))}"),
                                 element("pre", json.dumps(profile, indent=1, sort_keys=True)[:20000])))
    return join(parts)


def folded(summary: str, *content: Any, open_: bool = False) -> Markup:
    """``content`` folded under ``summary`` in a ``<details>`` element."""
    return element("details", element("summary", summary), *content, open=open_)
