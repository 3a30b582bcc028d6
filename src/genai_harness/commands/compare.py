"""``genai-harness compare BASELINE CURRENT``: the regression gate.

Exit codes: 0 every row equivalent, improved or inconclusive within its threshold; 1 a regression (threshold
and significance both met); 16 no regression but some inconclusive row that fails under ``--on-inconclusive``
(``auto``, the default: a row whose runs could hide a 1.5x slowdown, untested rows included, while rows only
beyond the threshold get a warning line; ``fail``: any unresolved row; ``warn`` says so and exits 0, ``pass``
exits 0); 11 a store or run that cannot be read; 13 nothing comparable (no common cell, different schema
versions, both sides the same rows); 2 a bad option.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from genai_harness.analysis.statistics import ROUND_ESTIMATORS
from genai_harness.atomic import write_text
from genai_harness.errors import GATE_INCONCLUSIVE_EXIT, ComparisonError, ConfigurationError, StoreError
from genai_harness.gate.compare import (
    AB_THRESHOLD,
    ALPHA,
    PAIRED_ALPHA,
    PAIRED_TEST,
    PAIRED_TESTS,
    ROUND_ESTIMATOR,
    TARGET_SLOWDOWN,
    THRESHOLD,
    UNTESTED,
    check_comparable,
    compare_frames,
)
from genai_harness.gate.distinct import check_distinct
from genai_harness.gate.outcome import (
    ON_INCONCLUSIVE,
    ON_INCONCLUSIVE_DEFAULT,
    ONE_JOB_FALSE_REGRESSIONS,
    flagged,
    gate_outcome,
    inconclusive_fails,
    one_job_a_side,
)
from genai_harness.gate.render import to_junit, to_markdown, to_table
from genai_harness.gate.verdicts import BLIND_SLOWDOWN
from genai_harness.results.query import ResultFilter
from genai_harness.results.selection import Selection

REGRESSION_EXIT = 1


def parse_thresholds(items: list[str] | None) -> dict[str, float]:
    """``METRIC=FACTOR`` items into a mapping; a malformed item is a ConfigurationError."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ConfigurationError(f"--metric-threshold takes METRIC=FACTOR (e.g. ttft_ms=1.2), got {item!r}")
    return out


def result_filter(args: argparse.Namespace) -> ResultFilter:
    """The ResultFilter of the common filter options (applied to both sides, inside the store's query)."""
    return ResultFilter(frameworks=args.framework, devices=args.device, model_ids=args.model,
                        workload_ids=args.workload)


def add_filter_options(p: argparse.ArgumentParser) -> None:
    """``--framework/--device/--model/--workload``, each repeatable."""
    p.add_argument("--framework", action="append", help="only this framework (repeatable)")
    p.add_argument("--device", action="append", help="only this device label (repeatable)")
    p.add_argument("--model", action="append", help="only this model id (repeatable)")
    p.add_argument("--workload", action="append", help="only this workload id (repeatable)")


def add_gate_options(p: argparse.ArgumentParser, *, paired: bool = False) -> None:
    """The verdict's settings and output formats, shared by ``compare`` and ``ab`` (``paired``: ab's defaults)."""
    threshold, alpha = (AB_THRESHOLD, PAIRED_ALPHA) if paired else (THRESHOLD, ALPHA)
    test = "paired test on per-round log ratios (--paired-test)" if paired else "t-test on the logs of the run medians"
    shown = "headline metrics, the load's CPU time (load_cpu_s) in place of its wall time" if paired \
        else "headline metrics"
    p.add_argument("--metric", action="append", help=f"compare this metric (repeatable; default: {shown})")
    p.add_argument("--threshold", type=float, default=threshold,
                   help=f"factor a metric must worsen by to be a regression (default {threshold})")
    p.add_argument("--metric-threshold", action="append", metavar="METRIC=FACTOR",
                   help="a factor for one metric, e.g. ttft_ms=1.2 (repeatable)")
    p.add_argument("--alpha", type=float, default=alpha,
                   help=f"false-alarm rate of the whole comparison: each row's {test} is adjusted over every row "
                        f"(Holm; a rate and the latency it inverts count once) before it is held against alpha "
                        f"(default {alpha})")
    if paired:
        p.add_argument("--round-estimator", choices=ROUND_ESTIMATORS, default=ROUND_ESTIMATOR,
                       help=f"one number per round of each side (default {ROUND_ESTIMATOR}; best = the fastest "
                            "repetition: the minimum of a latency, the maximum of a rate; it halves openvino-genai's "
                            "round-to-round noise under load but raises onnxruntime-genai's: benchmarks/RESULTS.md)")
        p.add_argument("--paired-test", choices=PAIRED_TESTS, default=PAIRED_TEST,
                       help=f"how the per-round log ratios are judged (default {PAIRED_TEST}: Wilcoxon's signed-rank "
                            "test with the Hodges-Lehmann interval, which the heavy tails of a loaded machine's "
                            "rounds spread less; t: Student's t on their mean: benchmarks/RESULTS.md)")
    if not paired:  # ab's paired rounds cancel the machine's speed already
        p.add_argument("--machine-speed", choices=("kernel", "off"), default="kernel",
                       help="kernel (default): where the rows carry calib_ms and it explains a speed metric's "
                            "spread, take the machine's speed out of each run (tested_on says so); off: judge "
                            "raw times (benchmarks/RESULTS.md, 'Machine-speed calibration kernel')")
        p.add_argument("--job-level", choices=("on", "off"), default="on",
                       help="on (default): where the runs name their CI job (job_id: run --job, $GENAI_HARNESS_JOB "
                            "or the CI system's id) and a side holds several jobs, average each job's runs into one "
                            "unit and judge by the spread between jobs, since runs taken in a row share their job's "
                            "drift (tested_on says jobs); off: count every run")
    p.add_argument("--on-inconclusive", choices=ON_INCONCLUSIVE, default=ON_INCONCLUSIVE_DEFAULT,
                   help="when nothing regressed but a row is inconclusive at or beyond its threshold (or its 95%% "
                        f"interval reaches {BLIND_SLOWDOWN}x), or could not be tested (one run a side): auto "
                        f"(exit {GATE_INCONCLUSIVE_EXIT} where a row's runs could hide a {BLIND_SLOWDOWN}x slowdown: "
                        "its interval reaches it, or it is untested; else a warning line, exit 0), fail "
                        f"(exit {GATE_INCONCLUSIVE_EXIT} on any), warn (a line on stderr, exit 0) or pass "
                        f"(default {ON_INCONCLUSIVE_DEFAULT}; what each costs: README, 'Regression testing in CI')")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the comparison as JSON")
    out.add_argument("--markdown", action="store_true", help="print Markdown (for a CI step summary)")
    p.add_argument("--junit", type=Path, default=None, help="also write JUnit XML to this file")


def gate_comparison(baseline: Any, current: Any, args: argparse.Namespace, *, ignore: Any = (),
                    paired: bool = False, family_scale: int = 1) -> Any:
    """:func:`~genai_harness.gate.compare.compare_frames` with the gate options of ``args``."""
    return compare_frames(baseline, current, threshold=args.threshold,
                          thresholds=parse_thresholds(args.metric_threshold), alpha=args.alpha,
                          metrics=args.metric, ignore=ignore, paired=paired, family_scale=family_scale,
                          calibrate=getattr(args, "machine_speed", "kernel") == "kernel",
                          by_job=getattr(args, "job_level", "on") == "on",
                          **({"round_estimator": args.round_estimator, "paired_test": args.paired_test}
                             if paired else {}))


def judge(baseline: Any, current: Any, args: argparse.Namespace, *, labels: tuple[str, str],
          ignore: Any = (), paired: bool = False) -> int:
    """Compare two frames with the gate options of ``args``, refuse when nothing pairs, report (exit code).

    ``paired``: the sides are the rounds of one interleaved ``ab`` job (a paired test per round).
    """
    comparison = gate_comparison(baseline, current, args, ignore=ignore, paired=paired)
    check_comparable(comparison, *labels)
    code = report(comparison, args, f"genai-harness {args.command}: {labels[1]} against {labels[0]}")
    for line in power_notes(comparison) if paired else runs_notes(comparison):
        print(line, file=sys.stderr)
    return code


NOTE_SLOWDOWN = 1.25
"""compare notes rows whose runs would miss a slowdown this large more than 5 % of the time (with the default
factor of 1.10 no row can catch 10 % that often: the factor alone lets half of such slowdowns through)."""


def runs_notes(comparison: Any) -> list[str]:
    """For a comparison of separate runs: one line when some rows could not be tested or would miss a 25 %
    slowdown."""
    judged = comparison[~comparison["verdict"].isin(["only in baseline", "only in current"])]
    alone = int(judged["tested_on"].isin(UNTESTED).sum())
    blind = judged[judged["detectable"] > NOTE_SLOWDOWN]
    one_job = (["genai-harness compare: each side's runs came from one job (job_id), so the drift between jobs "
                "was not measured: runs taken in a row share it, and unchanged code was called a regression in "
                f"{ONE_JOB_FALSE_REGRESSIONS} of such comparisons (benchmarks/RESULTS.md); keep two or more jobs in "
                "the baseline, or use `genai-harness ab`"] if one_job_a_side(judged) else [])
    if not alone and not len(blind):
        return one_job
    parts = [f"{alone} of {len(judged)} rows have one run a side and nothing else to measure the noise between "
             "runs by (untested)"] if alone else []
    if len(blind):
        parts.append(f"{len(blind)} of {len(judged)} rows catch only slowdowns of {blind['detectable'].min():.2f}x-"
                     f"{blind['detectable'].max():.2f}x or more 95 % of the time (column catches)")
    more = ("more jobs in the baseline's history" if judged["tested_on"].str.startswith("jobs").any()
            else "more runs a side (a baseline that keeps a history of runs)")
    return [f"genai-harness compare: {'; '.join(parts)}; {more} see more, and `genai-harness ab` sees most",
            *one_job]


def power_notes(comparison: Any) -> list[str]:
    """One line per paired cell and metric whose rounds, at the job's own noise, cannot see a 10 % slowdown."""
    def more(needed: float) -> str:
        if math.isfinite(needed):
            return f"about {int(needed)} rounds would catch {TARGET_SLOWDOWN:.2f}x (--max-rounds)"
        return f"no round count catches {TARGET_SLOWDOWN:.2f}x with --threshold at or above it"

    def sees(detectable: float) -> str:
        if math.isfinite(detectable):
            return (f"at this job's round-to-round noise the gate catches only slowdowns of {detectable:.2f}x or "
                    "more 95 % of the time")
        return "these rounds are too few for its signed-rank test to show any slowdown at --alpha"

    return [f"genai-harness ab: {row['metric']} of {row['target']} | {row['workload_id']} | {row['model_id']}: "
            f"{sees(row['detectable'])}; {more(row['rounds_needed'])}"
            for row in comparison[comparison["detectable"] > TARGET_SLOWDOWN].to_dict("records")]


def report(comparison: Any, args: argparse.Namespace, title: str) -> int:
    """Print the comparison as asked, write JUnit if asked, and return the exit code (1 on a regression)."""
    if args.junit:
        try:
            args.junit.parent.mkdir(parents=True, exist_ok=True)  # then written whole or not at all
            write_text(args.junit, to_junit(comparison, on_inconclusive=args.on_inconclusive))
        except OSError as exc:
            raise StoreError(f"cannot write the JUnit file {args.junit}: {exc.strerror}; give a writable path") from exc
    if args.json:
        print(comparison.to_json(orient="records", indent=2))
    elif args.markdown:
        print(to_markdown(comparison, title))
    else:
        print(to_table(comparison))
    return outcome_code(comparison, args.on_inconclusive)


def outcome_code(comparison: Any, on_inconclusive: str) -> int:
    """The gate's exit code (1 regression; 16 unresolved rows that fail under ``on_inconclusive``: any with
    ``fail``, a blind one with ``auto``; else 0), with one line on stderr saying why whenever the gate did not
    simply pass."""
    outcome = gate_outcome(comparison)
    if outcome == "regression":
        print("genai-harness: regression found (exit 1)", file=sys.stderr)
        return REGRESSION_EXIT
    if outcome == "unresolved":
        rows = comparison[flagged(comparison, "unresolved")]
        untested = int(rows["tested_on"].isin(UNTESTED).sum())
        blind = int(flagged(rows, "blind").sum())
        why = (f"{len(rows)} rows inconclusive ({len(rows) - untested} at or beyond the threshold or with an "
               f"interval reaching {BLIND_SLOWDOWN:.1f}x, {untested} untested: one run or one job a side; {blind} of "
               f"them could hide a {BLIND_SLOWDOWN:.1f}x slowdown); neither a regression nor unchanged is shown; "
               "more runs a side, or `genai-harness ab`, can tell")
        if inconclusive_fails(comparison, on_inconclusive):
            print(f"genai-harness: {why} (exit {GATE_INCONCLUSIVE_EXIT}, --on-inconclusive {on_inconclusive}; warn "
                  "or pass to let it through)", file=sys.stderr)
            return GATE_INCONCLUSIVE_EXIT
        if on_inconclusive != "pass":
            print(f"genai-harness: warning: {why} (--on-inconclusive {on_inconclusive}: exit 0)", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare CURRENT against BASELINE; exit 1 on a regression."""
    baseline = Selection.parse(args.baseline)
    current = Selection.parse(args.current, default_store=baseline.store)
    versions = {baseline.label: baseline.open().schema_version, current.label: current.open().schema_version}
    if len(set(versions.values())) > 1:
        detail = ", ".join(f"{k} is version {v}" for k, v in versions.items())
        raise ComparisonError(f"the stores have different schema versions ({detail}); migrate the older one first "
                              "(`genai-harness results --store OLD --migrate`) so both record the same columns")
    where = result_filter(args)
    base_frame, current_frame = baseline.load(where), current.load(where)
    for selection, rows in ((baseline, base_frame), (current, current_frame)):
        if not len(rows):
            raise ComparisonError(f"{selection.label} has no rows (or none match --framework/--device/--model/"
                                  "--workload); `genai-harness results` lists what it holds")
    check_distinct(base_frame, current_frame, baseline.label, current.label)
    return judge(base_frame, current_frame, args, labels=(baseline.label, current.label), ignore=args.ignore or ())


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser(
        "compare", help="compare two result sets; exit 1 on a regression",
        description="Compare CURRENT against BASELINE per cell and metric: Student's t on the logs of one median "
                    "per run, the run-to-run spread pooled over every cell of the metric (separate processes differ "
                    "by more than a gate looks for; one run a side everywhere is untested). Each row is a "
                    "regression (worse by the threshold, p < alpha after Holm over every row), an improvement, "
                    "equivalent (the ratio's 95% CI inside 1/threshold..threshold) or inconclusive. "
                    "Each side is STORE, STORE@RUN_ID, STORE@last, or @RUN_ID (in BASELINE's store). "
                    f"Exit: 0 pass, 1 regression, {GATE_INCONCLUSIVE_EXIT} inconclusive at or beyond the threshold "
                    "or untested (--on-inconclusive), 11 store/run unreadable, 13 nothing comparable or both "
                    "sides the same rows.")
    p.add_argument("baseline", help="STORE, STORE@RUN_ID, STORE@last or @RUN_ID")
    p.add_argument("current", help="STORE, STORE@RUN_ID, STORE@last or @RUN_ID (in the baseline's store)")
    add_filter_options(p)
    p.add_argument("--ignore", action="append",
                   help="a column that differs on purpose (environment, precision, threads, model_id ...)")
    add_gate_options(p)
    p.set_defaults(handler=cmd_compare)


