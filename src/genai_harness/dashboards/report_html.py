"""The one-file HTML report. It answers first (the best target per workload with its margin, quality and memory,
and the summary score per target: :mod:`.report_answer`); then, folded in ``<details>``: runs and failed cells
with their errors, the compare verdicts (with a baseline), operator coverage, per-cell statistics with intervals,
the figures as inline SVG (each once, grouped by task) and the machine, shown once. No network fetch, no
JavaScript. Every value reaches the page through :mod:`.markup` (escaped, attributes included)."""

from __future__ import annotations

import io
import multiprocessing
import re
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG

from genai_harness.analysis.keys import TARGET_COLUMNS
from genai_harness.analysis.long_view import (
    cell_statistics,
    run_status,
)
from genai_harness.analysis.metric_info import EVERY, METRICS
from genai_harness.atomic import atomic_output, write_text
from genai_harness.dashboards.common import PLAIN_TEXT, without_captions
from genai_harness.dashboards.markup import Markup, element, join
from genai_harness.dashboards.report_answer import answer_section
from genai_harness.dashboards.report_figures import (
    ALL_TASKS,
    ReportFigure,
    default_baseline,
    report_figures,
)
from genai_harness.dashboards.report_tables import (
    accuracy_section,
    assistant_section,
    cold_start_section,
    coverage_section,
    export_section,
    failed_section,
    folded,
    machine_section,
    numerics_section,
    table,
    verdict_section,
)
from genai_harness.dispatch.evidence import EVIDENCE_COLUMNS
from genai_harness.errors import StoreError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

REPORT_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys((
    "run_id", "run_started_at", "recorded_at", "machine_fingerprint", "hostname", "machine_profile", "runtime_versions",
    *TARGET_COLUMNS, "runtime", "task", "workload_id", "model_id", "model_hash", "repetition", "status", "error",
    "error_type", "n_input_tokens", "n_new_tokens", "batch_size", "itl_by_position_ms", "ref_within_tolerance",
    "weight_precision", "kv_cache_precision", "cache_key", "cache_hit",
    # the export matrix (issue 21)
    "exporter", "exporter_version", "export_s", "model_bytes", "op_census", "ep_node_share", "ep_fallback",
    *EVIDENCE_COLUMNS, *METRICS)))
"""The columns a report reads from a store (of 70): reading the others costs a 100k-row report about a second."""

STYLE = """
body{font-family:sans-serif;margin:1em 1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em;margin:0 0 0.2em} h2{font-size:1.15em;margin:0.6em 0 0.3em} h3{font-size:1em;margin:0.8em 0 0.3em}
p.source,p.note{font-size:12px;color:#555;margin:0.2em 0 0.6em}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}
table.answer{margin:0.3em 0 0.4em} table.answer td{padding:3px 6px}
details{margin:0.4em 0;border-top:1px solid #ddd;padding-top:0.3em} summary{font-weight:bold;cursor:pointer}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0 2em} figure svg{display:block;border:1px solid #eee}
.regression{background:#fbd5d5} .improvement{background:#d5f5dd} pre{white-space:pre-wrap;font-size:11px}
td.ok{background:#d5f5dd} td.wrong{background:#fbd5d5} td.unsupported{background:#eee} td.crashed{background:#f5c26b}
"""


@dataclass
class Report:
    """A built report: the HTML text, the figures it embeds (by file-safe name) and notes for the user (rows
    left out, with why), each one line."""

    html: str
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _drawn(draw: Any) -> Any:
    """Draw (build or print) a figure as the report does: data texts plain, no per-figure machine caption, and
    matplotlib's "constrained_layout not applied" (labels too long for the figure: the figure is drawn as laid out
    before) and "Glyph missing" (a control character in a label) kept off stderr."""
    with matplotlib.rc_context(PLAIN_TEXT), without_captions(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*constrained_layout not applied.*")
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")  # a control character in a label
        return draw()


def svg_of(figure: Figure) -> str:
    """The figure as an inline ``<svg>`` element (text kept as text, fixed ids so reports diff cleanly)."""
    # The SVG canvas's own print: one draw, the layout engine run inside it. ``savefig`` would draw the whole
    # figure twice (a layout pass, then the real one), and measuring every label is most of an SVG's cost.
    buffer, dpi, canvas = io.StringIO(), figure.dpi, figure.canvas
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "genai-harness"}):
            _drawn(lambda: FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None}))
    finally:
        figure.dpi = dpi
        figure.set_canvas(canvas)  # the figure's own canvas back (Agg, or a notebook's)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def report_statistics(df: pd.DataFrame) -> pd.DataFrame:
    """``cell_statistics`` of ``df`` for the headline metrics of its tasks: computed once per report."""
    tasks = df["task"].dropna().unique() if "task" in df.columns else []
    names = [m.name for m in METRICS.values() if m.headline and any(t in m.tasks for t in tasks)]
    return cell_statistics(df, names)


def statistics_section(stats: pd.DataFrame) -> Markup:
    """Per cell and headline metric: median with its 95 % CI, p90, n and unit."""
    if not len(stats):
        return element("p", "No successful measurement.")
    shown = stats.assign(
        metric=stats["metric"].map(lambda n: METRICS[n].title),
        median_ci=[f"{METRICS[m].format(v)} [{METRICS[m].format(lo)}, {METRICS[m].format(hi)}]"
                   for m, v, lo, hi in zip(stats["metric"], stats["median"], stats["ci_low"], stats["ci_high"],
                                           strict=True)],
        p90=[METRICS[m].format(v) for m, v in zip(stats["metric"], stats["p90"], strict=True)])
    return table(shown.rename(columns={"median_ci": "median [95 % CI]"}),
                  ["target", "task", "workload_id", "model_id", "metric", "median [95 % CI]", "p90", "n", "better"])


def _figure_block(spec: ReportFigure, figure: Figure) -> Markup:
    width, height = (round(v * 72) for v in figure.get_size_inches())
    svg = Markup(svg_of(figure))  # matplotlib's SVG writer escapes every text and attribute it writes
    return element("figure", element("figcaption", element("b", spec.heading)), svg, id=f"fig-{spec.name}",
                   data_width_pt=width, data_height_pt=height)


_PENDING: list[ReportFigure] = []
"""The figures a forked worker of :func:`figure_blocks` draws: inherited by fork, never pickled (they are closures)."""


def _draw_block(index: int) -> str:
    spec = _PENDING[index]
    return _figure_block(spec, _drawn(spec.draw))


def figure_blocks(specs: list[ReportFigure], workers: int = 1) -> tuple[list[str], dict[str, Figure]]:
    """The HTML block of each figure, in order, and the drawn Figures by name.

    Drawing and writing a figure's SVG is ~0.2 s of single-threaded text layout however few rows it shows,
    so a report's figures are the largest part of its time; with ``workers`` > 1 (and ``fork`` available)
    they are drawn in that many forked processes (Linux only), which then return only the SVG text: the Figures dict
    is empty (``--png`` draws in this process)."""
    global _PENDING
    if workers <= 1 or len(specs) < 2 or not sys.platform.startswith("linux"):  # fork is unsafe on macOS
        figures = {spec.name: _drawn(spec.draw) for spec in specs}
        return [_figure_block(spec, figures[spec.name]) for spec in specs], figures
    _PENDING = specs
    try:
        with ProcessPoolExecutor(min(workers, len(specs)), mp_context=multiprocessing.get_context("fork")) as pool:
            return [Markup(b) for b in pool.map(_draw_block, range(len(specs)))], {}
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
    df, notes = _known_rows(df)
    if not len(df):
        raise StoreError(f"no results in {source} that this version can show: {notes[0]}")
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    stats = report_statistics(df)
    specs = report_figures(df, comparison, score_baseline, stats)
    blocks, figures = figure_blocks(specs, workers)
    runs = run_status(df)
    failed = int(runs["failed"].sum()) if len(runs) else 0
    body = [
        element("h1", "genai-harness report"),
        element("p", f"Source: {source}; {len(df)} rows, {len(runs)} run(s), {failed} failed cell(s); written "
                     f"{stamp}. Intervals are bootstrap 95 % confidence intervals.", class_="source"),
        *(element("p", element("b", "Note: "), note, class_="source") for note in notes),
        answer_section(df, stats, score_baseline or default_baseline(df)),
        assistant_section(df), accuracy_section(df),
        folded(f"Runs ({len(runs)}) and failed cells ({failed})", table(runs), failed_section(df),
                open_=failed > 0),
        numerics_section(df), cold_start_section(df),
        folded("Compare verdicts", verdict_section(comparison, baseline_label), open_=comparison is not None),
        coverage_section(df), export_section(df),
        folded(f"Statistics per cell ({len(stats)} rows: median [95 % CI], p90, n)", statistics_section(stats)),
        *_figure_groups(specs, blocks),
        folded("Machine, runtimes and numerics (of every figure and table above)", machine_section(df)),
    ]
    page = ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>genai-harness report</title>"
            f"<style>{STYLE}</style></head><body>{join(body)}</body></html>")
    return Report(page, figures, notes)


def _known_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The rows of tasks this version knows, and one note naming what was left out (a store may hold rows of
    a newer version's task: they are skipped, never a reason to refuse the whole store)."""
    if "task" not in df.columns:
        return df, []
    unknown = df["task"].notna() & ~df["task"].astype(str).isin(list(EVERY))
    if not unknown.any():
        return df, []
    names = sorted(df.loc[unknown, "task"].astype(str).unique())
    shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    note = (f"skipped {int(unknown.sum())} row(s) of task(s) this version does not know ({shown}); "
            "a newer genai-harness reports them")
    return df[~unknown], [note]


def _figure_groups(specs: list[ReportFigure], blocks: list[Markup]) -> list[Markup]:
    """The figures folded per task (each figure once), then those across tasks."""
    if not blocks:
        return [folded("Figures", element("p", "No figure: no successful measurement."))]
    groups: dict[str, list[Markup]] = {}
    for spec, block in zip(specs, blocks, strict=True):
        groups.setdefault(spec.group, []).append(block)
    order = sorted(g for g in groups if g != ALL_TASKS) + ([ALL_TASKS] if ALL_TASKS in groups else [])
    return [folded(f"Figures: {group} ({len(groups[group])})", *groups[group]) for group in order]


def write_report(report: Report, out_dir: Path, *, png: bool = False) -> Path:
    """Write ``report.html`` (and with ``png`` each figure as ``NAME.png``) into ``out_dir``; return the HTML path.

    A folder that cannot be created or written is a :class:`StoreError` naming it. Each file appears whole or
    not at all (:mod:`genai_harness.atomic`): a full disk or an interrupt leaves an earlier report as it was."""
    path = out_dir / "report.html"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text(path, report.html)
        if png:
            for name, figure in report.figures.items():
                with atomic_output(out_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png") as tmp:
                    _drawn(lambda f=figure, t=tmp: f.savefig(t, dpi=100))
    except OSError as exc:
        raise StoreError(f"cannot write the report into {out_dir}: {exc.strerror or exc}; "
                         "give --out a folder you can write") from exc
    return path
