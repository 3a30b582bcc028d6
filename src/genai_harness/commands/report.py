"""``genai-harness report``: one self-contained HTML file of a store (or a run), with figures as inline SVG.

Exit codes: 0 written, 11 an empty store, a missing run, an output folder that cannot be written. Rows the
report leaves out (of a task this version does not know) are named in one ``note:`` line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from genai_harness.errors import ConfigurationError
from genai_harness.gate.compare import compare_frames
from genai_harness.gate.distinct import check_distinct
from genai_harness.results.selection import Selection
from genai_harness.results.store import parse_store


def cmd_report(args: argparse.Namespace) -> int:
    """Read the selected rows through the store API, build the report, write it, print its path."""
    # matplotlib (and pandas) only for `report`: the CLI start of every other command stays light
    from genai_harness.dashboards.report_html import REPORT_COLUMNS, build_report, write_report

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = args.jobs if args.jobs is not None else min(4, usable)
    if jobs < 1:
        raise ConfigurationError(f"--jobs {jobs}: give 1 or more processes to draw the figures in")
    store = parse_store(args.store)  # a URL stays a URL; no --store: $GENAI_HARNESS_STORE, else the default
    selection = Selection(store, args.run)
    frame = selection.load(columns=REPORT_COLUMNS)
    comparison, baseline_label = None, None
    if args.baseline:
        baseline = Selection.parse(args.baseline, default_store=store)
        baseline_label = baseline.label
        baseline_frame = baseline.load(columns=REPORT_COLUMNS)
        # the same rows on both sides are refused; a baseline run inside the reported store is compared with the rest
        shared = check_distinct(baseline_frame, frame, baseline.label, selection.label, allow_part=True)
        comparison = compare_frames(baseline_frame, frame[~shared])
    workers = 1 if args.png else jobs  # --png writes the Figures drawn in this process
    report = build_report(frame, source=selection.label, comparison=comparison, baseline_label=baseline_label,
                          score_baseline=args.score_baseline, workers=workers)
    path = write_report(report, Path(args.out), png=args.png)
    for note in report.notes:
        print(f"genai-harness: note: {note}", file=sys.stderr)
    print(path)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser(
        "report", help="write one self-contained HTML report (figures, tables with intervals, failures)",
        description="Write DIR/report.html. First the answer: per task and workload the best target, its margin over "
                    "the next (ratio, 95% CI), quality and memory, and the summary score per target; then, folded: "
                    "runs, failed cells with errors, per-cell medians with 95% CI, figures as inline SVG (no network, "
                    "no JavaScript), the machine and, with --baseline, the compare verdicts. Rows of a task this "
                    "version does not know are skipped (one note line). Exit: 0 written, 11 empty store, missing run "
                    "or unwritable folder.")
    p.add_argument("--store", default=None, help="the results store: a .sqlite file or a postgresql:// URL "
                   "(default $GENAI_HARNESS_STORE, else results/genai-harness.sqlite)")
    p.add_argument("--run", default=None, help="only this run id, or 'last'")
    p.add_argument("--baseline", default=None, help="compare against STORE, STORE@RUN_ID, STORE@last or @RUN_ID")
    p.add_argument("--score-baseline", default=None,
                   help="target label or run id the summary score is relative to (default: the target with most cells)")
    p.add_argument("--out", required=True, help="folder to write report.html into (created when missing)")
    p.add_argument("--jobs", type=int, default=None,
                   help="processes that draw the figures (default: the CPUs, at most 4; --png draws in one)")
    p.add_argument("--png", action="store_true", help="also write every figure as DIR/NAME.png")
    p.set_defaults(handler=cmd_report)
