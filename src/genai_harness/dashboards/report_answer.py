"""The report's first screen: per task, workload and model, the best target with its margin over the next
(ratio of medians and its bootstrap 95 % interval), its quality and memory beside it, then the summary score
per target. Everything here is ranked and estimated by code that already exists: the dispatcher's ordering
(:func:`genai_harness.dispatch.ranking.order_candidates`: best median, ties within noise to lower memory, then
load time), :func:`genai_harness.analysis.statistics.ratio_ci` and the summary score of :mod:`.speed`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genai_harness.analysis.long_view import cell_statistics, with_target
from genai_harness.analysis.metric_info import METRICS, metrics_for
from genai_harness.analysis.statistics import ratio_ci, ratio_of_medians
from genai_harness.dashboards.markup import Markup, element, join
from genai_harness.dashboards.speed import speed_metric, summary_scores
from genai_harness.dispatch.decision import Candidate
from genai_harness.dispatch.ranking import order_candidates
from genai_harness.errors import HarnessError

if TYPE_CHECKING:
    import pandas as pd

CELL = ["task", "workload_id", "model_id"]


@dataclass(frozen=True)
class Answer:
    """The best target of one cell (task, workload, model) and how far ahead of the next it is."""

    task: str
    workload: str
    model: str
    metric: str
    best: str
    best_median: float
    best_ci: tuple[float, float]
    runner_up: str | None
    margin: float
    """How many times better the best is than the runner-up (> 1: better; NaN without a runner-up)."""
    margin_ci: tuple[float, float]
    quality: str
    memory_mib: float | None
    targets: int


def _value(stats: pd.DataFrame, target: str, metric: str) -> float | None:
    row = stats[(stats["target"] == target) & (stats["metric"] == metric)]
    return float(row["median"].iloc[0]) if len(row) else None


def _candidate(row: dict[str, Any], memory: float | None, load: float | None) -> Candidate:
    # the dispatcher's Candidate, keyed by the report's target label (kept in ``framework``): its ordering rule
    return Candidate(str(row["target"]), "", "", None, None, None, {}, float(row["median"]), float(row["ci_low"]),
                     float(row["ci_high"]), str(row["unit"]), memory, load, int(row["n"]), "this report")


def answers(df: pd.DataFrame, stats: pd.DataFrame) -> list[Answer]:
    """One :class:`Answer` per cell with a measured speed metric, by task, workload and model (numbers in them in
    numeric order) (pure).

    ``stats``: ``cell_statistics(df)`` of the headline metrics (the report's); quality metrics are added here."""
    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    if not len(ok) or not len(stats):
        return []
    targeted = with_target(ok)
    accuracy = [m.name for m in metrics_for(kind="accuracy") if m.name in targeted.columns]
    quality = cell_statistics(targeted, accuracy) if accuracy else stats.iloc[:0]
    out = []
    for (task, workload, model), cell in stats.groupby(CELL, sort=True):
        try:
            metric = speed_metric(str(task))
        except HarnessError:
            continue
        speed = cell[cell["metric"] == metric]
        if not len(speed):
            continue
        info = METRICS[metric]
        candidates = [_candidate(r, _value(cell, r["target"], "peak_rss_mb"), _value(cell, r["target"], "load_s"))
                      for r in speed.to_dict("records") if not math.isnan(float(r["median"]))]
        if not candidates:
            continue
        ranked = order_candidates(candidates, info.better)
        best, runner_up = ranked[0], (ranked[1] if len(ranked) > 1 else None)
        margin, margin_ci = math.nan, (math.nan, math.nan)
        if runner_up is not None:
            rows = targeted[(targeted["task"] == task) & (targeted["workload_id"] == workload)
                            & (targeted["model_id"] == model)]
            best_values = rows.loc[rows["target"] == best.framework, metric].dropna().tolist()
            next_values = rows.loc[rows["target"] == runner_up.framework, metric].dropna().tolist()
            # "times better": the runner-up's time over the best's, or the best's rate over the runner-up's
            slow, fast = (next_values, best_values) if info.better == "lower" else (best_values, next_values)
            margin, margin_ci = ratio_of_medians(fast, slow), ratio_ci(fast, slow)
        cell_quality = quality[(quality["task"] == task) & (quality["workload_id"] == workload)
                               & (quality["model_id"] == model) & (quality["target"] == best.framework)]
        shown = [f"{METRICS[q['metric']].label} {METRICS[q['metric']].format(q['median'])}"
                 for q in cell_quality.to_dict("records")][:2]
        out.append(Answer(str(task), str(workload), str(model), metric, best.framework, best.expected,
                          (best.ci_low, best.ci_high), runner_up.framework if runner_up else None, margin,
                          margin_ci, "; ".join(shown) or "not recorded", best.peak_rss_mib, len(ranked)))
    return sorted(out, key=lambda a: (_natural(a.task), _natural(a.workload), _natural(a.model)))


def _natural(text: str) -> list[Any]:
    """Sort key that puts ``p16`` before ``p64`` before ``p256``."""
    return [(0, int(part), "") if part.isdecimal() else (1, 0, part) for part in re.split(r"(\d+)", text) if part]


def _number(value: float, digits: str = "{:.2f}") -> str:
    return digits.format(value) if value == value else "?"


def margin_text(answer: Answer) -> str:
    """``1.42x [1.30-1.55] better than T``, or why there is no margin (one target, tied within noise)."""
    if answer.runner_up is None:
        return "the only target measured"
    low, high = answer.margin_ci
    interval = f"{answer.margin:.2f}x [{_number(low)}-{_number(high)}]"
    if low == low and low > 1.0:
        return f"{interval} better than {answer.runner_up}"
    return f"{interval} against {answer.runner_up}: within noise"


def answer_section(df: pd.DataFrame, stats: pd.DataFrame, baseline: str | None) -> Markup:
    """The answer block: the best target per cell with its margin, quality and memory; the summary score."""
    found = answers(df, stats)
    if not found:
        return element("section", element("h2", "Answer"), element("p", "No successful measurement to rank."),
                       id="answer")
    rows = []
    for a in found:
        info = METRICS[a.metric]
        value = (f"{info.format(a.best_median)} {info.unit} "
                 f"[{info.format(a.best_ci[0])}-{info.format(a.best_ci[1])}]")
        memory = "not recorded" if a.memory_mib is None else f"{a.memory_mib:.0f} MiB"
        rows.append(element("tr", element("td", a.task), element("td", a.workload), element("td", a.model),
                            element("td", element("b", a.best)), element("td", f"{info.title}: {value}"),
                            element("td", margin_text(a)), element("td", a.quality), element("td", memory),
                            element("td", a.targets, class_="num")))
    titles = ("task", "workload", "model", "best target", "its median [95 % CI]", "margin over the next", "quality",
              "peak memory", "targets")
    head = element("tr", *(element("th", h) for h in titles))
    parts = [element("h2", "Answer: the best target per workload"),
             element("table", head, *rows, class_="answer"),
             element("p", "Best: the lowest median time (highest rate) of the task's speed metric; targets tied "
                          "within noise go to the lower peak memory, as the dispatcher chooses. Margin: the ratio of "
                          "the runner-up's median to the best's, with its bootstrap 95 % interval.", class_="note")]
    if baseline:
        scores, _ = summary_scores(df, baseline, stats)
        if len(scores):
            extra = [c for c in scores.columns if c not in ("target", "score", "cells")]
            score_head = element("tr", *(element("th", h) for h in ("target", "summary score", "cells", *extra)))
            score_rows = [element("tr", element("td", r["target"]), element("td", f"{r['score']:.2f}", class_="num"),
                                  element("td", r["cells"], class_="num"),
                                  *(element("td", "" if r[c] != r[c] else f"{r[c]:.3g}", class_="num") for c in extra))
                          for r in scores.to_dict("records")]
            parts += [element("h3", f"Summary score per target (geometric mean of speed ratios against {baseline}; "
                                    "> 1 is faster)"),
                      element("table", score_head, *score_rows, class_="answer")]
    return element("section", join(parts), id="answer")
