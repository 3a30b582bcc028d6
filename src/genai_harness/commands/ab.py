"""``genai-harness ab A B``: an interleaved A/B run in one job, then the compare (exit 1 on a regression of B)."""

from __future__ import annotations

import argparse


def cmd_ab(args: argparse.Namespace) -> int:
    """Run A and B interleaved, compare B against A, report; exit 1 when B regressed."""
    from genai_harness.commands.compare import parse_thresholds, report
    from genai_harness.harness.ab import IGNORED, Side, run_ab
    from genai_harness.results.compare import check_comparable, compare_frames

    frame_a, frame_b = run_ab(args.a, args.b, args.suite, rounds=args.rounds, frameworks=args.framework,
                              devices=args.device, models=args.model, store=args.store, pythons=args.python,
                              config=args.config, progress=not args.quiet,
                              inject_slowdown=(None, args.inject_slowdown))
    comparison = compare_frames(frame_a, frame_b, threshold=args.threshold,
                                thresholds=parse_thresholds(args.metric_threshold), alpha=args.alpha,
                                metrics=args.metric, ignore=IGNORED[Side.parse(args.a).kind])
    check_comparable(comparison, f"A ({args.a})", f"B ({args.b})")
    return report(comparison, args, f"genai-harness ab: {args.b} against {args.a}")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    from genai_harness.commands.compare import add_gate_options

    p = sub.add_parser(
        "ab", help="interleaved A/B run of two environments, models or option sets, then compare",
        description="Run A and B alternately (ABBA per round, every call its own worker) on the same machine in "
                    "the same minutes, then compare B against A. A side is env:NAME (a registered environment, "
                    "e.g. two onnxruntime builds), model:ID (a registered model variant) or "
                    "opts:precision=P,threads=N. Exit: 0 no regression, 1 B regressed, 2 bad option.")
    p.add_argument("a", help="the baseline side: env:NAME, model:ID or opts:precision=P,threads=N")
    p.add_argument("b", help="the candidate side, of the same kind as A")
    p.add_argument("--suite", default="smoke", help="a shipped suite or a suite file (default smoke)")
    p.add_argument("--rounds", type=int, default=5,
                   help="ABBA rounds (default 5: the rank test then counts runs, and 5 vs 5 can reach p < 0.05)")
    p.add_argument("--framework", action="append", help="only this framework (repeatable)")
    p.add_argument("--device", action="append", help="only devices matching this label (repeatable)")
    p.add_argument("--model", action="append", help="only these models (repeatable; not with model: sides)")
    p.add_argument("--store", default=None, help="store for both sides' rows (default results/genai-harness.sqlite)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.add_argument("--inject-slowdown", type=float, default=None, metavar="FACTOR",
                   help="calibration only: stretch side B's measured spans by FACTOR")
    add_gate_options(p)
    p.set_defaults(handler=cmd_ab)
