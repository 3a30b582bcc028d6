"""``genai-harness pick``: the dispatcher's decision for a task, a model and an objective."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from genai_harness.dispatch.decision import QUALITY_METRICS, Constraints, Decision
from genai_harness.dispatch.objectives import OBJECTIVES
from genai_harness.errors import ConfigurationError
from genai_harness.interface.tasks import ALL_TASKS
from genai_harness.tables import format_table


def _number(value: float | None, digits: str = ".4g") -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, digits)


def render(decision: Decision, quality_metric: str = "answers") -> str:
    """The decision as text: the pick, its reason and evidence, the ranked alternatives with intervals; for a
    family, each row's variant, weight precision and quality, and why each alternative lost."""
    d = decision
    if d.winner is not None and d.winner.model_id:
        return _render_variants(d, quality_metric)
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


def _evidence_line(d: Decision) -> str:
    age = d.evidence_age_s
    return (f"evidence: {d.evidence_rows} rows, newest {d.newest_evidence}"
            + (f" ({age / 3600:.1f} h ago)" if age is not None else "") + (" — STALE" if d.stale else ""))


def _render_variants(d: Decision, quality_metric: str) -> str:
    """A family's decision: which variant runs where, and why every other variant x target lost or was excluded."""
    winner = d.winner
    assert winner is not None
    lines = [f"pick: variant {winner.model_id} on {winner.target}", f"why: {d.reason}", _evidence_line(d)]
    rows = [(i + 1, c.model_id, c.weight_precision or "", c.target, f"{_number(c.expected)} {c.unit}",
             f"{_number(c.ci_low)}-{_number(c.ci_high)}", _number(c.peak_rss_mib, ".0f"),
             _number(c.quality(quality_metric), ".3g"), c.reason or "picked")
            for i, c in enumerate(d.ranked)]
    lines.append(format_table(["#", "variant", "weights", "target", "expected", "95% CI", "peak MiB", quality_metric,
                               "why not first"], rows, max_width=48))
    lines += [f"excluded: {e}" for e in d.excluded]
    return "\n".join(lines)


def constraints_from(args: argparse.Namespace) -> Constraints:
    """The constraints the options give; a quality floor outside 0-1 is a ConfigurationError (exit 2)."""
    floor = args.min_quality
    if floor is not None and not 0.0 <= floor <= 1.0:
        raise ConfigurationError(f"--min-quality {floor:g} is not a share: give a value from 0 to 1 "
                                 "(0.9 = at least 90 % of the checkpoint's answers)")
    return Constraints(max_memory_mib=args.max_memory, precisions=tuple(args.precision or ()) or None,
                       frameworks=tuple(args.framework or ()) or None, devices=tuple(args.device or ()) or None,
                       min_quality=floor, quality_metric=args.quality_metric,
                       variants=tuple(args.variant or ()) or None)


def cmd_pick(args: argparse.Namespace) -> int:
    """Print the decision (exit 14 when there is no evidence to decide from)."""
    from genai_harness.dispatch.decide import decide  # reads the store with pandas: only `pick` pays at CLI start

    constraints = constraints_from(args)
    decision = decide(args.task, args.model, args.objective, store=args.store, constraints=constraints,
                      prompt_tokens=args.prompt_tokens, new_tokens=args.new_tokens, calls=args.calls,
                      probe_budget_s=args.probe_budget, allow_stale=args.allow_stale, config=args.config,
                      static_fallback=False)
    lines = _package_lines(args, decision) if args.package else []
    if args.json:
        print(json.dumps({**decision.to_dict(), **({"package": lines} if args.package else {})}, indent=2,
                         default=str))
    else:
        print("\n".join([render(decision, args.quality_metric), *lines]))
    return 0


def _package_lines(args: argparse.Namespace, decision: Decision) -> list[str]:
    """The model package's declared choice beside the measured one."""
    from genai_harness.config import load_config  # with the catalog: only --package reads it here
    from genai_harness.dispatch.package_choice import compare, declared_choice  # loads runtimes: only --package
    from genai_harness.workloads.catalog import Catalog  # only --package maps package folders to catalog models

    models = Catalog(load_config(Path(args.config) if args.config else None)).models.values()
    return compare(declared_choice(Path(args.package).expanduser(), models), decision)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser("pick", help="the best device for a model and objective, from the measurements",
                       description="Rank every measured target of MODEL for TASK by OBJECTIVE (median with a 95 % "
                                   "bootstrap interval; ties within noise go to lower memory, then load time). "
                                   "For a family of variants, every variant x target, with a quality floor.")
    p.add_argument("--task", required=True, choices=[str(task) for task in ALL_TASKS])
    p.add_argument("--model", required=True, help="a catalog model id, or a family of built variants "
                   "(smollm2-135m: its float32, int4 and int8 builds ranked as one choice)")
    p.add_argument("--objective", required=True, help=f"one of {', '.join(OBJECTIVES)}")
    p.add_argument("--prompt-tokens", type=int, default=None, help="for ttft/latency: the app's prompt length")
    p.add_argument("--new-tokens", type=int, default=None, help="for latency: the app's output length")
    p.add_argument("--calls", type=int, default=10, help="for cold: calls per start (default 10)")
    p.add_argument("--max-memory", type=float, default=None, metavar="MiB", help="peak-memory cap")
    p.add_argument("--precision", action="append", help="allowed precision (repeatable)")
    p.add_argument("--framework", action="append", help="allowed framework (repeatable)")
    p.add_argument("--device", action="append", help="allowed device (repeatable)")
    p.add_argument("--variant", action="append", help="for a family: allowed variant id (repeatable)")
    p.add_argument("--min-quality", type=float, default=None, metavar="SHARE",
                   help="quality floor, 0-1, on the --quality-metric that `run --reference` recorded; a variant x "
                        "target below it, or never measured against the checkpoint, is excluded")
    p.add_argument("--quality-metric", choices=list(QUALITY_METRICS), default="answers",
                   help="; ".join(f"{k}: {v[1]}" for k, v in QUALITY_METRICS.items()) + " (default answers)")
    p.add_argument("--store", default=None, help="results store: a .sqlite path or postgresql:// URL "
                   "(default $GENAI_HARNESS_STORE, else results/genai-harness.sqlite)")
    p.add_argument("--probe-budget", type=float, default=0.0, metavar="SECONDS",
                   help="with no evidence, measure for up to this long first (default 0: refuse)")
    p.add_argument("--allow-stale", action="store_true", help="use evidence from other runtime versions")
    p.add_argument("--package", metavar="DIR", help="an onnxruntime model package (manifest.json with variants): "
                   "print the variant the runtime selects by declared compatibility beside the measured choice")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(handler=cmd_pick)
