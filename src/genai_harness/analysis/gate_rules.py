"""How a gate judges a metric, by the metric's kind: the rule for counted (deterministic) metrics.

Wall-time metrics vary 7-28 % between separate runs of one cell here, so a gate needs several runs a side and a
test (:mod:`genai_harness.gate.compare`). Instruction counts (kind ``instructions``: executed instructions counted
by valgrind, ``--measure instructions``) vary far less between runs (benchmarks/RESULTS.md, "Instruction
counts"). For them one run a side is enough and no test is needed: the ratio of the medians is the change, up to
the rule's noise band. :func:`judge_counted` is that rule; :func:`kind_rule` says which metrics follow it. Pure
functions, no pandas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from genai_harness.analysis.metric_info import METRICS
from genai_harness.analysis.statistics import median
from genai_harness.tasks.instructions import KIND as INSTRUCTIONS


@dataclass(frozen=True)
class CountedRule:
    """The gate of a counted metric kind: its default ``threshold`` (a factor) and ``noise``, the largest relative
    change measured between identical runs (the band each ratio is known within)."""

    kind: str
    threshold: float
    noise: float

    @property
    def flag_line(self) -> float:
        """The slowdown from which a row is a regression: the threshold less the noise, so a change of the
        threshold is flagged however the noise falls, and an unchanged build (within the noise) never is."""
        return self.threshold * (1.0 - self.noise)


INSTRUCTION_RULE = CountedRule(INSTRUCTIONS, threshold=1.02, noise=0.005)
"""Instruction counts: a 2 % threshold, one run a side. ``noise``: 0.5 %: of 23 identical runs of tiny-llm 22
agreed within 0.1 % in every column and one lay 1.3 % high, still under the flag line (1.49 %); no A/A pair was
flagged and a 2 % growth was caught in 95.7 % of pairs (benchmarks/instruction_counts.py, RESULTS.md)."""
RULES: dict[str, CountedRule] = {INSTRUCTION_RULE.kind: INSTRUCTION_RULE}
"""The counted rule of each metric kind that has one; every other kind is judged by the gate's test."""
COUNTED_TESTED_ON = "counts"
"""``tested_on`` of a row judged by a counted rule (no test: the ratio itself, within the rule's noise)."""


def kind_rule(metric: str) -> CountedRule | None:
    """The counted rule of ``metric``'s kind, or None when the metric is judged by the gate's test (pure)."""
    info = METRICS.get(metric)
    return RULES.get(info.kind) if info is not None else None


def counted_verdict(slowdown: float, threshold: float, noise: float) -> str:
    """``regression`` (slowdown >= threshold x (1 - noise)), ``improvement`` (the mirror), ``equivalent`` (the
    ratio, give or take the noise, lies inside 1/threshold..threshold) or ``inconclusive`` (pure)."""
    if not math.isfinite(slowdown) or slowdown <= 0:
        return "inconclusive"
    line = threshold * (1.0 - noise)
    if slowdown >= line:
        return "regression"
    if slowdown <= 1.0 / line:
        return "improvement"
    if slowdown * (1.0 + noise) < threshold and slowdown / (1.0 + noise) > 1.0 / threshold:
        return "equivalent"
    return "inconclusive"


def judge_counted(baseline: Sequence[float], current: Sequence[float], *, lower_is_better: bool, threshold: float,
                  noise: float) -> dict[str, Any]:
    """A compare row's judgement of a counted metric from its values (one run a side is enough; pure): ratio of the
    medians, its band (the ratio give or take ``noise``), slowdown (> 1 worse), verdict, ``detectable`` (the
    threshold: a change that large is always flagged); no p-value, no rounds needed."""
    b, c = median(list(baseline)), median(list(current))
    ratio = c / b if b > 0 else math.nan
    slowdown = ratio if lower_is_better else (1.0 / ratio if ratio else math.nan)
    return {"ratio": ratio, "ratio_ci_low": ratio * (1.0 - noise), "ratio_ci_high": ratio * (1.0 + noise),
            "slowdown": slowdown, "p_value": math.nan, "p_family": math.nan, "tested_on": COUNTED_TESTED_ON,
            "verdict": counted_verdict(slowdown, threshold, noise), "detectable": threshold, "rounds_needed": math.nan}


def counted_defaults(measures: Iterable[Any]) -> tuple[str, ...] | None:
    """The metrics a gate compares by default when every row was measured under ``--measure instructions`` (the
    ``measure`` column of both sides' rows): the instruction columns, whose wall times are the simulation's. None
    when some row was not (then the gate's own defaults)."""
    values = list(measures)
    if not values or any(not isinstance(value, str) or value != INSTRUCTIONS for value in values):
        return None
    return tuple(name for name, info in METRICS.items() if info.kind == INSTRUCTIONS)


def row_measures(frame: Any) -> list[Any]:
    """The ``measure`` of each ok row of a results frame (None where the column is absent) (pure)."""
    ok = frame[frame["status"] == "ok"] if "status" in frame.columns else frame
    return ok["measure"].tolist() if "measure" in ok.columns else [None] * len(ok)
