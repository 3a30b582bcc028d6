"""``genai-harness run``: the benchmark."""

from __future__ import annotations

import argparse
import json
import os
import sys

from genai_harness.backends.numerics import PRECISIONS
from genai_harness.errors import CellError, OperatorsNotSupportedError
from genai_harness.runner.job import confirming_job, job_id
from genai_harness.worker.protocol.ops import MEASURES
from genai_harness.workloads.operators.spec import OPERATOR_TASK


def cmd_run(args: argparse.Namespace) -> int:
    """Run a suite; exit 0 when every cell that applies succeeded, 9 (CellError) when some failed.

    A skipped cell (one that does not apply: prompt + new tokens beyond the model's context) is no failure.
    """
    from genai_harness.runner.benchmark import run  # pandas and the runner load when a run starts: the CLI starts light

    if args.export:
        from genai_harness.results.export import check_export_path  # the results room loads when used (CLI start)

        check_export_path(args.export)  # refuse a bad suffix before the run, not after it
    frame = run(args.suite, frameworks=args.framework, devices=args.device, models=args.model, store=args.store,
                pythons=args.python, config=args.config, progress=not args.quiet, precision=args.precision,
                threads=args.threads, reference=args.reference, inject_slowdown=args.inject_slowdown,
                measure=args.measure, cold=args.cold,
                job=confirming_job(job_id(args.job, os.environ)) if args.confirming else args.job,
                cold_start=False if args.no_cold_start else None, **({"ray_address": args.ray} if args.ray else {}))
    if args.json:
        print(frame.to_json(orient="records", indent=2))
    if args.export:
        from genai_harness.results.export import export  # the results room loads when used (CLI start)

        export(frame, args.export)
        print(f"exported {len(frame)} rows to {args.export}", file=sys.stderr)
    failed = frame[~frame["status"].isin(["ok", "skipped"])] if len(frame) else frame
    family = bool(len(failed)) and _is_family_suite(args.suite)  # the export matrix: its refusals are its findings
    if len(failed) and "error_type" in failed:  # an operator a runtime refuses is a finding of the suite
        failed = failed[~((failed["task"] == OPERATOR_TASK) & (failed["error_type"] == "OperatorNotSupported"))]
        refused = failed["error_type"] == OperatorsNotSupportedError.__name__
        # a model a runtime refuses for operators it lacks: a finding of that target (the export matrix says so below)
        if refused.any() and not family:
            cells = failed[refused][["framework", "device", "workload_id", "model_id"]].drop_duplicates()
            print(f"genai-harness: {len(cells)} cell(s) refused by their runtime for operators it does not implement "
                  "(a finding, not a fault; their words: `genai-harness results --run last`)",
                  file=sys.stderr)
            failed = failed[~refused]
    if len(failed) and family:  # the export matrix: a refusal or crash is its finding
        cells = failed[["framework", "device", "model_id"]].drop_duplicates()
        print(f"genai-harness: {len(cells)} export cell(s) refused, crashed or not exported: findings of the "
              "export matrix (`genai-harness results --coverage`)", file=sys.stderr)
        failed = failed.iloc[0:0]
    if len(failed):
        cells = failed[["framework", "device", "workload_id", "model_id"]].drop_duplicates()
        print(f"genai-harness: {len(cells)} cell(s) failed; their reasons are in the store", file=sys.stderr)
        return CellError.exit_code
    if not len(frame):
        print(json.dumps([]) if args.json else "genai-harness: nothing ran", file=sys.stderr)
    return 0


def _is_family_suite(suite: str) -> bool:
    """Whether ``suite`` runs families of exports (the exports suite), whose refusals are findings."""
    from genai_harness.workloads.suites import load_suite  # light: the suite was loaded once already by the run

    try:
        return load_suite(suite).family
    except Exception:  # an operator suite or a path gone since: not a family suite
        return False


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser("run", help="run a benchmark suite on every usable device (default: smoke)")
    p.add_argument("--suite", default="smoke",
                   help="a shipped suite (smoke, client; operator suites: attention, attention-full) or a suite file")
    p.add_argument("--framework", action="append", help="only this framework (repeatable)")
    p.add_argument("--device", action="append",
                   help="only devices matching this label, e.g. CPU, CPU:OpenVINO (repeatable)")
    p.add_argument("--model", action="append", help="run these catalog models instead of the suite's (repeatable)")
    p.add_argument("--store", default=None,
                   help="a .sqlite path or postgresql:// URL (default $GENAI_HARNESS_STORE, else "
                        "results/genai-harness.sqlite)")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="schedule every cell on the Ray cluster at ADDRESS (machines started with "
                        "`genai-harness node`); needs a store every node reaches (a postgresql:// URL)")
    p.add_argument("--export", default=None, help="also write this run's rows to a .parquet or .csv file")
    p.add_argument("--json", action="store_true", help="print this run's rows as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress or summary")
    add_numerics_options(p)
    p.add_argument("--reference", action="store_true",
                   help="also check each cell against a reference: the float32 checkpoint where the model carries "
                        "one (`models build`: token agreement, first divergence, question-set score, NLL), else "
                        "the same runtime at f32 on CPU; a reference that cannot be had is recorded, rows kept")
    p.add_argument("--inject-slowdown", type=float, default=None, metavar="FACTOR",
                   help="calibrating a gate only: stretch every measured span by FACTOR (1.10 = 10 %% slower); "
                        "recorded in the rows' injected_slowdown; never on by default")
    p.add_argument("--cold", action="store_true",
                   help="empty each compiling target's compiled-model cache before its cell, so its load is the "
                        "empty-cache start (load_cold_s); without it a cell loads through the cache as it finds it. "
                        "Either way the cell records compile_s, load_cold_s, load_warm_s and cache_mib")
    p.add_argument("--no-cold-start", action="store_true",
                   help="skip the extra loads (no cache, empty cache, warm cache: each a fresh process) that a run "
                        "takes once per compiling target and model; rows keep only what each cell's own load shows "
                        "(default: $GENAI_HARNESS_COLD_START, on unless it says off)")
    p.add_argument("--job", default=None, metavar="NAME",
                   help="the CI job or session this run belongs to (recorded as job_id): compare averages the runs "
                        "of one job into one unit, since runs taken in a row share the machine's drift (default: "
                        "$GENAI_HARNESS_JOB, else the CI system's job id: GitHub Actions, GitLab, Buildkite, Azure, "
                        "CircleCI, Jenkins)")
    p.add_argument("--confirming", action="store_true",
                   help="record this run in the job that confirms the job's failing gate (JOB/confirm, JOB as "
                        "--job names it or as found by default): what a CI gate measures again before it fails")
    add_measure_option(p)
    p.set_defaults(handler=cmd_run)


def add_measure_option(p: argparse.ArgumentParser) -> None:
    """``--measure time|instructions``, shared by ``run`` and ``ab``."""
    p.add_argument("--measure", choices=MEASURES, default="time",
                   help="time (default), or instructions: run each cell under valgrind's callgrind with one compute "
                        "thread and also record executed instructions per phase (instructions_* columns; "
                        "deterministic, for noisy runners; about 30x slower)")


def add_numerics_options(p: argparse.ArgumentParser) -> None:
    """``--precision`` and ``--threads``, shared by ``run`` and the direct commands."""
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="numeric precision to run at (default: the workload's, else what the runtime picks); "
                        "a runtime that cannot honour it refuses the cell")
    p.add_argument("--threads", type=int, default=None,
                   help="compute threads (default: the workload's, else the runtime's); refused if not honoured")
