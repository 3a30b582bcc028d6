"""``genai-harness pick``: the dispatcher's decision for a task, a model and an objective."""

from __future__ import annotations

import argparse
import json
import math

from genai_harness.dispatch.decision import Constraints, Decision
from genai_harness.dispatch.objectives import OBJECTIVES
from genai_harness.interface.tasks import ALL_TASKS
from genai_harness.tables import format_table


def _number(value: float | None, digits: str = ".4g") -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, digits)


def render(decision: Decision) -> str:
    """The decision as text: the pick, its reason and evidence, the ranked alternatives with intervals."""
    d = decision
    lines = [f"pick: {d.winner.target if d.winner else 'none'}", f"why: {d.reason}"]
    if d.static:
        lines.append("evidence: none (static order)")
    else:
        age = d.evidence_age_s
        lines.append(f"evidence: {d.evidence_rows} rows, newest {d.newest_evidence}"
                     + (f" ({age / 3600:.1f} h ago)" if age is not None else "")
                     + (" — STALE" if d.stale else ""))
    rows = [(i + 1, c.target, f"{_number(c.expected)} {c.unit}", f"{_number(c.ci_low)}-{_number(c.ci_high)}",
             _number(c.peak_rss_mib, ".0f"), _number(c.load_s, ".2f"), c.n, c.evidence)
            for i, c in enumerate(d.ranked)]
    lines.append(format_table(["#", "target", "expected", "95% CI", "peak MiB", "cold load s", "n", "evidence"], rows,
                              max_width=56))
    lines += [f"excluded: {e}" for e in d.excluded]
    return "\n".join(lines)


def cmd_pick(args: argparse.Namespace) -> int:
    """Print the decision (exit 14 when there is no evidence to decide from)."""
    from genai_harness.dispatch.decide import decide  # reads the store with pandas: only `pick` pays at CLI start

    constraints = Constraints(max_memory_mib=args.max_memory, precisions=tuple(args.precision or ()) or None,
                              frameworks=tuple(args.framework or ()) or None,
                              devices=tuple(args.device or ()) or None)
    decision = decide(args.task, args.model, args.objective, store=args.store, constraints=constraints,
                      prompt_tokens=args.prompt_tokens, new_tokens=args.new_tokens, calls=args.calls,
                      probe_budget_s=args.probe_budget, allow_stale=args.allow_stale, config=args.config,
                      static_fallback=False)
    print(json.dumps(decision.to_dict(), indent=2, default=str) if args.json else render(decision))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser("pick", help="the best device for a model and objective, from the measurements",
                       description="Rank every measured target of MODEL for TASK by OBJECTIVE (median with a 95 % "
                                   "bootstrap interval; ties within noise go to lower memory, then load time).")
    p.add_argument("--task", required=True, choices=[str(task) for task in ALL_TASKS])
    p.add_argument("--model", required=True, help="a catalog model id")
    p.add_argument("--objective", required=True, help=f"one of {', '.join(OBJECTIVES)}")
    p.add_argument("--prompt-tokens", type=int, default=None, help="for ttft/latency: the app's prompt length")
    p.add_argument("--new-tokens", type=int, default=None, help="for latency: the app's output length")
    p.add_argument("--calls", type=int, default=10, help="for cold: calls per start (default 10)")
    p.add_argument("--max-memory", type=float, default=None, metavar="MiB", help="peak-memory cap")
    p.add_argument("--precision", action="append", help="allowed precision (repeatable)")
    p.add_argument("--framework", action="append", help="allowed framework (repeatable)")
    p.add_argument("--device", action="append", help="allowed device (repeatable)")
    p.add_argument("--store", default=None, help="results store: a .sqlite path or postgresql:// URL "
                   "(default $GENAI_HARNESS_STORE, else results/genai-harness.sqlite)")
    p.add_argument("--probe-budget", type=float, default=0.0, metavar="SECONDS",
                   help="with no evidence, measure for up to this long first (default 0: refuse)")
    p.add_argument("--allow-stale", action="store_true", help="use evidence from other runtime versions")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(handler=cmd_pick)
