"""``genai-harness ab A B``: an interleaved A/B run in one job, then the compare (exit 1 on a regression of B)."""

from __future__ import annotations

import argparse
from typing import Any

from genai_harness.commands.compare import add_gate_options, gate_comparison, judge
from genai_harness.commands.run import add_measure_option
from genai_harness.gate.compare import (
    AB_MAX_ROUNDS,
    AB_REPETITIONS,
    AB_ROUNDS,
    AB_ROUNDS_PER_WORKER,
    rounds_to_run,
)


def cmd_ab(args: argparse.Namespace) -> int:
    """Run A and B interleaved, compare B against A, report; exit 1 when B regressed."""
    from genai_harness.gate.ab import IGNORED, Side, run_ab  # the runner (and pandas) loads when ab runs: light CLI

    ignore = IGNORED[Side.parse(args.a).kind]
    max_rounds = args.max_rounds if args.max_rounds is not None else max(AB_MAX_ROUNDS, args.rounds)

    def rounds_needed(frame_a: Any, frame_b: Any, pairs: int) -> float:
        """What a cell pair's rounds so far say it needs (``compare.rounds_to_run`` of the gate's comparison of
        them, one of ``pairs`` alike parts of the job's family of tests)."""
        return rounds_to_run(gate_comparison(frame_a, frame_b, args, ignore=ignore, paired=True, family_scale=pairs))

    frame_a, frame_b = run_ab(args.a, args.b, args.suite, rounds=args.rounds, frameworks=args.framework,
                              devices=args.device, models=args.model, store=args.store, pythons=args.python,
                              config=args.config, progress=not args.quiet,
                              inject_slowdown=(None, args.inject_slowdown), max_rounds=max_rounds,
                              rounds_needed=rounds_needed, measure=args.measure,
                              rounds_per_worker=args.rounds_per_worker, repetitions=args.repetitions)
    return judge(frame_a, frame_b, args, labels=(f"A ({args.a})", f"B ({args.b})"), ignore=ignore, paired=True)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser(
        "ab", help="interleaved A/B run of two environments, models or option sets, then compare",
        description="Run A and B alternately (ABBA per round; every call its own worker, or one worker a side for "
                    "--rounds-per-worker rounds) on the same machine in "
                    "the same minutes, then compare B against A round by round (a signed-rank test on the per-round "
                    "log ratios, or Student's t with --paired-test t; a regression when p < --alpha after Holm and "
                    "the ratio >= --threshold). "
                    "A side is env:NAME (a registered environment, "
                    "e.g. two onnxruntime builds), model:ID (a registered model variant) or "
                    "opts:precision=P,threads=N. Exit: 0 pass, 1 B regressed, 16 a row inconclusive at or beyond its "
                    "threshold (--on-inconclusive), 2 bad option.")
    p.add_argument("a", help="the baseline side: env:NAME, model:ID or opts:precision=P,threads=N")
    p.add_argument("b", help="the candidate side, of the same kind as A")
    p.add_argument("--suite", default="smoke", help="a shipped suite or a suite file (default smoke)")
    p.add_argument("--rounds", type=int, default=AB_ROUNDS,
                   help=f"ABBA rounds every cell pair runs first (default {AB_ROUNDS})")
    p.add_argument("--max-rounds", type=int, default=None, metavar="M",
                   help=f"a cell pair whose rounds show the runner too noisy for the gate to catch a 10 %% slowdown "
                        f"runs more rounds, up to M in all (default {AB_MAX_ROUNDS}, or --rounds if larger; "
                        "--max-rounds equal to --rounds runs a fixed count). The count follows the measured noise, "
                        "never the effect; the JSON's rounds_needed and a warning on stderr say when M fell short")
    p.add_argument("--rounds-per-worker", type=int, default=AB_ROUNDS_PER_WORKER, metavar="K",
                   help="one worker per side serves K rounds of a cell pair (loads its model once; the rounds "
                        "alternate ABBA), and the gate counts each worker pair as one unit, its rounds averaged; "
                        f"1 starts a fresh worker for every call (default {AB_ROUNDS_PER_WORKER}). 2 saved a tenth to "
                        "a third of the machine time where every load compiles (openvino-genai); where loads are "
                        "cheap (onnxruntime-genai) sessions cost more")
    p.add_argument("--repetitions", type=int, default=AB_REPETITIONS, metavar="N",
                   help="each call measures at most N repetitions after the workload's warm-ups (a workload with "
                        "fewer keeps its own; no min_time_s loop); default: the workload's own. The gate keeps one "
                        "median a call: on a quiet machine 3 cost 0.6 of the machine time at the same rates, on a "
                        "loaded one a median of 3 varies more and jobs need more rounds")
    p.add_argument("--framework", action="append", help="only this framework (repeatable)")
    p.add_argument("--device", action="append", help="only devices matching this label (repeatable)")
    p.add_argument("--model", action="append", help="only these models (repeatable; not with model: sides)")
    p.add_argument("--store", default=None, help="store for both sides' rows: a .sqlite path or postgresql:// URL "
                   "(default $GENAI_HARNESS_STORE, else results/genai-harness.sqlite)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.add_argument("--inject-slowdown", type=float, default=None, metavar="FACTOR",
                   help="calibration only: stretch side B's measured spans by FACTOR")
    add_measure_option(p)
    add_gate_options(p, paired=True)
    p.set_defaults(handler=cmd_ab)
