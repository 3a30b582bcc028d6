"""The one-file HTML report: machine profile, runs, tables with intervals, figures as inline SVG, failed
cells with their errors and, with a baseline, the compare verdicts. No network fetch, no JavaScript."""

from __future__ import annotations

import html
import io
import json
import multiprocessing
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG

from genai_harness.analysis.assistant import ASSISTANT_HEADERS, assistant_scores, assistant_table
from genai_harness.analysis.coverage import coverage_counts, coverage_matrix
from genai_harness.analysis.keys import CELL_LABEL_COLUMNS, TARGET_COLUMNS, cell_label, text_value
from genai_harness.analysis.long_view import cell_statistics, row_labels, run_status
from genai_harness.analysis.metric_info import METRICS
from genai_harness.dashboards.common import caption_text
from genai_harness.dashboards.report_figures import ReportFigure, report_figures
from genai_harness.dispatch.evidence import EVIDENCE_COLUMNS
from genai_harness.errors import StoreError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

REPORT_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys((
    "run_id", "run_started_at", "recorded_at", "machine_fingerprint", "hostname", "machine_profile", "runtime_versions",
    *TARGET_COLUMNS, "runtime", "task", "workload_id", "model_id", "model_hash", "repetition", "status", "error",
    "error_type", "n_input_tokens", "n_new_tokens", "batch_size", "itl_by_position_ms", "ref_within_tolerance",
    *EVIDENCE_COLUMNS, *METRICS)))
"""The columns a report reads from a store (of 70): reading the others costs a 100k-row report about a second."""

STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1200px}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0 2em} figure svg{display:block;border:1px solid #eee}
.regression{background:#fbd5d5} .improvement{background:#d5f5dd} pre{white-space:pre-wrap;font-size:11px}
td.ok{background:#d5f5dd} td.wrong{background:#fbd5d5} td.unsupported{background:#eee} td.crashed{background:#f5c26b}
"""


@dataclass
class Report:
    """A built report: the HTML text and the figures it embeds (by file-safe name)."""

    html: str
    figures: dict[str, Figure] = field(default_factory=dict)


def svg_of(figure: Figure) -> str:
    """The figure as an inline ``<svg>`` element (text kept as text, fixed ids so reports diff cleanly)."""
    # The SVG canvas's own print: one draw, the layout engine run inside it. ``savefig`` would draw the whole
    # figure twice (a layout pass, then the real one), and measuring every label is most of an SVG's cost.
    buffer, dpi, canvas = io.StringIO(), figure.dpi, figure.canvas
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "genai-harness"}):
            FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    finally:
        figure.dpi = dpi
        figure.set_canvas(canvas)  # the figure's own canvas back (Agg, or a notebook's)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _table(frame: pd.DataFrame, columns: list[str] | None = None, classes: dict[int, str] | None = None) -> str:
    columns = columns or list(frame.columns)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    rows = []
    for i, record in enumerate(frame[columns].to_dict("records")):
        cells = []
        for c in columns:
            value = record[c]
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            text = f"{value:.4g}" if isinstance(value, float) else text_value(value)
            cells.append(f"<td{' class=num' if numeric else ''}>{html.escape(text)}</td>")
        css = f" class={classes[i]}" if classes and i in classes else ""
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def report_statistics(df: pd.DataFrame) -> pd.DataFrame:
    """``cell_statistics`` of ``df`` for the headline metrics of its tasks: computed once per report."""
    tasks = df["task"].dropna().unique() if "task" in df.columns else []
    names = [m.name for m in METRICS.values() if m.headline and any(t in m.tasks for t in tasks)]
    return cell_statistics(df, names)


def statistics_section(stats: pd.DataFrame) -> str:
    """Per cell and headline metric: median with its 95 % CI, p90, n and unit."""
    if not len(stats):
        return "<p>No successful measurement.</p>"
    shown = stats.assign(
        metric=stats["metric"].map(lambda n: METRICS[n].title),
        median_ci=[f"{METRICS[m].format(v)} [{METRICS[m].format(lo)}, {METRICS[m].format(hi)}]"
                   for m, v, lo, hi in zip(stats["metric"], stats["median"], stats["ci_low"], stats["ci_high"],
                                           strict=True)],
        p90=[METRICS[m].format(v) for m, v in zip(stats["metric"], stats["p90"], strict=True)])
    return _table(shown.rename(columns={"median_ci": "median [95 % CI]"}),
                  ["target", "task", "workload_id", "model_id", "metric", "median [95 % CI]", "p90", "n", "better"])


def failed_section(df: pd.DataFrame) -> str:
    """Every cell that did not finish ok (failed, timeout, crashed, interrupted), with its error."""
    if "status" not in df.columns:
        return "<p>No status recorded.</p>"
    bad = df[~df["status"].isin(["ok", "skipped"])]
    if not len(bad):
        return "<p>No failed cell.</p>"
    bad = bad.assign(cell=row_labels(bad, CELL_LABEL_COLUMNS, cell_label))
    first = bad.drop_duplicates(["run_id", "cell", "status", "error"]) if "error" in bad.columns else bad
    columns = [c for c in ("run_id", "cell", "status", "error_type", "error") if c in first.columns]
    return _table(first.head(500), columns)


def verdict_section(comparison: pd.DataFrame | None, baseline_label: str | None) -> str:
    """The compare verdicts per cell and metric (regressions highlighted), or a note without a baseline."""
    if comparison is None:
        return "<p>No baseline given (<code>--baseline STORE[@RUN]</code> adds the compare verdicts).</p>"
    if not len(comparison):
        return f"<p>Nothing in common with the baseline {html.escape(str(baseline_label))}.</p>"
    counts = comparison["verdict"].value_counts().to_dict()
    summary = ", ".join(f"{v}: {n}" for v, n in sorted(counts.items()))
    order = comparison.sort_values(["verdict", "target"]).reset_index(drop=True)
    classes = {i: v for i, v in enumerate(order["verdict"]) if v in ("regression", "improvement")}
    columns = ["target", "task", "workload_id", "model_id", "metric", "unit", "baseline_median", "current_median",
               "ratio", "ratio_ci_low", "ratio_ci_high", "p_value", "verdict"]
    return (f"<p>Against {html.escape(str(baseline_label))}: {html.escape(summary)}.</p>"
            + _table(order, columns, classes))


_OUTCOME_CLASS = {"ok": "ok", "wrong result": "wrong", "not supported": "unsupported", "crashed": "crashed"}


def coverage_section(df: pd.DataFrame) -> str:
    """The operator coverage matrix (operator variant x runtime/EP: ok, wrong result, not supported, crashed)
    with the counts per runtime/EP, as ``results --coverage`` prints it; ``""`` when no operator cell ran."""
    matrix = coverage_matrix(df)
    if matrix.empty:
        return ""
    counts = coverage_counts(matrix)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["operator variant", *matrix.columns])
    rows = []
    for variant, outcomes in matrix.iterrows():
        cells = "".join(f"<td class={_OUTCOME_CLASS.get(o, 'none')}>{html.escape(o)}</td>" for o in outcomes)
        rows.append(f"<tr><td>{html.escape(str(variant))}</td>{cells}</tr>")
    summary = _table(counts.rename_axis("outcome").reset_index())
    return (f"<h2>Operator coverage</h2><p>{len(matrix)} operator variants on {len(matrix.columns)} runtime/EP "
            "targets; a cell shows the worst outcome of its repetitions (wrong result: outside the stated "
            "tolerance of onnx's ReferenceEvaluator).</p>"
            f"{summary}<table><tr>{head}</tr>{''.join(rows)}</table>")


def assistant_section(df: pd.DataFrame) -> str:
    """The client-assistant score per target and model (geometric means over MLPerf Client's categories) with its
    parts beneath; ``""`` when no assistant workload ran."""
    scores = assistant_scores(df.to_dict("records")) if "workload_id" in df.columns else []
    if not scores:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ASSISTANT_HEADERS)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in assistant_table(scores))
    return ("<h2>Client assistant score</h2><p>Per target and model: the geometric mean over MLPerf Client's "
            "categories of the median TTFT and of the median decode rate, each category beneath.</p>"
            f"<table><tr>{head}</tr>{rows}</table>")


ACCURACY_COLUMNS = ("family", "model_weights", "ref_source", "ref_token_agreement", "ref_first_divergence",
                    "ref_answer_share", "ref_questions", "ref_nll", "ref_nll_checkpoint", "ref_error")


def accuracy_section(df: pd.DataFrame) -> str:
    """Per cell, what its reference check found (agreement with the float32 checkpoint or the f32 runtime, the
    question-set score, NLL) or why it had none; ``""`` when no cell was checked."""
    if "ref_source" not in df.columns or not df["ref_source"].notna().any():
        return ""
    checked = df[df["ref_source"].notna()]
    checked = checked.assign(cell=row_labels(checked, CELL_LABEL_COLUMNS, cell_label))
    first = checked.drop_duplicates(["run_id", "cell"], keep="last")
    columns = ["cell", *(c for c in ACCURACY_COLUMNS if c in first.columns)]
    return ("<h2>Accuracy beside speed</h2><p>Each checked cell against its reference: the float32 checkpoint "
            "(greedy token agreement, first divergent token, share of the question set answered, NLL of a fixed "
            "text) or the same runtime at f32; random weights give agreement only.</p>" + _table(first, columns))


def machine_section(df: pd.DataFrame) -> str:
    """The machine profile of the newest row of each machine (pretty JSON) and the caption of the data."""
    parts = [f"<pre>{html.escape(caption_text(df))}</pre>"]
    if "machine_profile" in df.columns and len(df):
        key = "machine_fingerprint" if "machine_fingerprint" in df.columns else "machine_profile"
        for _, row in df.drop_duplicates(key, keep="last").head(5).iterrows():
            try:
                profile = json.loads(text_value(row["machine_profile"]) or "{}")
            except ValueError:
                profile = {"raw": text_value(row["machine_profile"])}
            parts.append(f"<details><summary>machine {html.escape(text_value(row.get(key)))}</summary>"
                         f"<pre>{html.escape(json.dumps(profile, indent=1, sort_keys=True)[:20000])}</pre></details>")
    return "".join(parts)


def _figure_block(spec: ReportFigure, figure: Figure) -> str:
    width, height = (round(v * 72) for v in figure.get_size_inches())
    svg = svg_of(figure)
    return (f'<figure id="fig-{spec.name}" data-width-pt="{width}" data-height-pt="{height}">'
            f"<figcaption><b>{html.escape(spec.heading)}</b></figcaption>{svg}</figure>")


_PENDING: list[ReportFigure] = []
"""The figures a forked worker of :func:`figure_blocks` draws: inherited by fork, never pickled (they are closures)."""


def _draw_block(index: int) -> str:
    spec = _PENDING[index]
    return _figure_block(spec, spec.draw())


def figure_blocks(specs: list[ReportFigure], workers: int = 1) -> tuple[list[str], dict[str, Figure]]:
    """The HTML block of each figure, in order, and the drawn Figures by name.

    Drawing and writing a figure's SVG is ~0.2 s of single-threaded text layout however few rows it shows,
    so a report's figures are the largest part of its time; with ``workers`` > 1 (and ``fork`` available)
    they are drawn in that many forked processes (Linux only), which then return only the SVG text: the Figures dict
    is empty (``--png`` draws in this process)."""
    global _PENDING
    if workers <= 1 or len(specs) < 2 or not sys.platform.startswith("linux"):  # fork is unsafe on macOS
        figures = {spec.name: spec.draw() for spec in specs}
        return [_figure_block(spec, figures[spec.name]) for spec in specs], figures
    _PENDING = specs
    try:
        with ProcessPoolExecutor(min(workers, len(specs)), mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_draw_block, range(len(specs)))), {}
    except (BrokenProcessPool, OSError):  # a worker died or could not start: the same figures, drawn here
        return figure_blocks(specs, 1)
    finally:
        _PENDING = []


def build_report(df: pd.DataFrame, *, source: str, comparison: pd.DataFrame | None = None,
                 baseline_label: str | None = None, score_baseline: str | None = None,
                 now: datetime | None = None, workers: int = 1) -> Report:
    """The report of ``df`` (rows read through the store API) as one HTML text and its figures.

    ``workers`` > 1 draws the figures in that many forked processes (see :func:`figure_blocks`; the
    report's ``figures`` are then empty). An empty ``df`` is a :class:`StoreError` (nothing to report)."""
    if not len(df):
        raise StoreError(f"no results in {source}; run `genai-harness run` first or choose another store or run")
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    stats = report_statistics(df)
    blocks, figures = figure_blocks(report_figures(df, comparison, score_baseline, stats), workers)
    runs = run_status(df)
    body = [
        f"<h1>genai-harness report</h1><p>Source: {html.escape(source)}; {len(df)} rows, "
        f"{len(runs)} run(s); written {stamp}. Intervals are bootstrap 95 % confidence intervals of the median.</p>",
        "<h2>Machine</h2>", machine_section(df),
        "<h2>Runs</h2>", _table(runs),
        "<h2>Failed cells</h2>", failed_section(df),
        "<h2>Compare verdicts</h2>", verdict_section(comparison, baseline_label),
        coverage_section(df), assistant_section(df), accuracy_section(df),
        "<h2>Statistics per cell</h2>", statistics_section(stats),
        "<h2>Figures</h2>", "".join(blocks) or "<p>No figure: no successful measurement.</p>",
    ]
    page = ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>genai-harness report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    return Report(page, figures)


def write_report(report: Report, out_dir: Path, *, png: bool = False) -> Path:
    """Write ``report.html`` (and with ``png`` each figure as ``NAME.png``) into ``out_dir``; return the HTML path.

    A folder that cannot be created or written is a :class:`StoreError` naming it."""
    path = out_dir / "report.html"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(report.html, encoding="utf-8")
        if png:
            for name, figure in report.figures.items():
                figure.savefig(out_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png", dpi=100)
    except OSError as exc:
        raise StoreError(f"cannot write the report into {out_dir}: {exc.strerror or exc}; "
                         "give --out a folder you can write") from exc
    return path
