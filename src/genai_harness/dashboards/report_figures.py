"""Which figures a report holds: chosen from what the results measured (nothing plotted that was not)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genai_harness.analysis.long_view import measured_metrics, with_target
from genai_harness.analysis.metric_info import EVERY, headline_metrics
from genai_harness.dashboards.comparison import device_comparison
from genai_harness.dashboards.distributions import itl_percentiles, latency_ecdf
from genai_harness.dashboards.history import history
from genai_harness.dashboards.itl_positions import itl_by_position
from genai_harness.dashboards.markup import slug
from genai_harness.dashboards.pick import pick_figure
from genai_harness.dashboards.scaling import tpot_vs_context, ttft_vs_prompt
from genai_harness.dashboards.speed import relative_speed_matrix, speed_metric, summary_score
from genai_harness.dispatch.evidence import EVIDENCE_COLUMNS
from genai_harness.dispatch.ranking import rank
from genai_harness.errors import HarnessError
from genai_harness.interface.tasks import Task
from genai_harness.tasks.registry import TASK_KINDS

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

ALL_TASKS = "all tasks"
"""The group of the figures that span tasks (relative speed, summary score)."""
DEFAULT_OBJECTIVE = {task: kind.objectives[0].name for task, kind in TASK_KINDS.items()}
"""The dispatcher objective shown per task in the report: the first the task declares."""


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report: a file-safe name (data parts as :func:`slug` s), a section heading, how to draw
    it and the group it is folded under (its task, or ``all tasks``)."""

    name: str
    heading: str
    draw: Callable[[], Figure]
    group: str = ALL_TASKS


def known_tasks(df: pd.DataFrame) -> list[str]:
    """The tasks of ``df``'s rows that this harness knows (a store may hold rows of a newer version's task)."""
    if "task" not in df.columns:
        return []
    return sorted(str(t) for t in df["task"].dropna().unique() if str(t) in EVERY)


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"] if "status" in df.columns else df


def default_baseline(df: pd.DataFrame) -> str | None:
    """The target that covers the most cells (ties: the first by name): the summary score's default baseline."""
    ok = _ok(df)
    if not len(ok):
        return None
    targeted = with_target(ok)
    cells = targeted.groupby("target")[["task", "workload_id", "model_id"]].apply(lambda g: len(g.drop_duplicates()))
    return str(sorted(cells.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])


def report_figures(df: pd.DataFrame, comparison: pd.DataFrame | None = None,
                   score_baseline: str | None = None, stats: pd.DataFrame | None = None) -> list[ReportFigure]:
    """The figures for ``df``: per task its headline metrics per target, scaling, distributions, the relative
    speed matrix, the summary score, history (several runs) and the dispatcher's pick per task and model.

    ``stats``: ``cell_statistics`` of ``df`` for the headline metrics, computed once and shared by the figures."""
    ok = _ok(df)
    tasks = known_tasks(ok)
    figures: list[ReportFigure] = []
    parts = {task: df[df["task"] == task] for task in tasks}  # each task's rows, cut once for all its figures
    for task in tasks:
        part = parts[task]
        for info in measured_metrics(_ok(part), [m.name for m in headline_metrics(task)]):
            figures.append(ReportFigure(f"{task}-{info.name}", f"{task}: {info.title} per target",
                                        lambda p=part, n=info.name: device_comparison(p, n, stats=stats), task))
        if task == Task.TEXT2TEXT:  # the text task alone has prompt-length and per-token figures
            figures.append(ReportFigure("ttft-vs-prompt", "TTFT against prompt length",
                                        lambda p=part: ttft_vs_prompt(p), task))
            figures.append(ReportFigure("tpot-vs-context", "TPOT against context", lambda p=part: tpot_vs_context(p),
                                        task))
            figures.append(ReportFigure("itl", "Inter-token latency", lambda p=part: itl_percentiles(p), task))
            figures.append(ReportFigure("itl-by-position", "Inter-token latency per token position",
                                        lambda p=part: itl_by_position(p), task))
        try:
            name = speed_metric(task)
        except HarnessError:
            continue
        figures.append(ReportFigure(f"{task}-{name}-ecdf", f"{task}: distribution of {name}",
                                    lambda p=part, n=name: latency_ecdf(p, n), task))
    if len(ok):
        figures.append(ReportFigure("relative-speed", "Relative speed (cell x target)",
                                    lambda: relative_speed_matrix(df, stats=stats)))
        baseline = score_baseline or default_baseline(df)
        if baseline:
            figures.append(ReportFigure("summary-score", f"Summary score against {baseline}",
                                        lambda: summary_score(df, baseline, stats=stats)))
    if ("run_id" in df.columns and df["run_id"].nunique() > 1) or comparison is not None:
        for task in tasks:
            name = speed_metric(task)
            figures.append(ReportFigure(f"{task}-history", f"{task}: {name} over runs",
                                        lambda p=parts[task], n=name: history(p, n, comparison), task))
    figures.extend(pick_figures(df))
    return figures


def pick_figures(df: pd.DataFrame) -> list[ReportFigure]:
    """The dispatcher's pick per task (default objective) and model; a task it cannot rank is left out."""
    ok = _ok(df)
    out = []
    if not {"task", "model_id"} <= set(ok.columns):
        return out
    evidence = ok[[c for c in EVIDENCE_COLUMNS if c in ok.columns]]  # the dispatcher's slice: its copies are cheap
    for (task, model), _ in ok.groupby(["task", "model_id"], sort=True):
        objective = DEFAULT_OBJECTIVE.get(str(task))
        if objective is None:
            continue
        try:
            decision = rank(evidence, task=str(task), model=str(model), objective=objective, allow_stale=True)
        except HarnessError:
            continue
        out.append(ReportFigure(f"pick-{task}-{slug(model)}", f"Dispatcher pick: {task}, {model}, {objective}",
                                lambda d=decision: pick_figure(d, df), str(task)))
    return out
