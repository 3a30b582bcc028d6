"""The client-assistant score: per target and model, the geometric mean over MLPerf Client's categories of the
median TTFT and of the median decode rate, as MLPerf Client defines its overall figures, with its parts.

Pure functions of rows (mappings); no pandas. A category is one workload of the ``assistant`` suite
(``assistant-<category>``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from genai_harness.analysis.keys import target_label, text_value

PREFIX = "assistant-"
"""Workload ids of the assistant suite's categories."""


@dataclass(frozen=True)
class AssistantScore:
    """One target's and model's score and the per-category medians beneath it."""

    target: str
    model_id: str
    ttft_gmean_ms: float
    decode_gmean_tps: float
    categories: dict[str, tuple[float, float]]
    """category -> (median TTFT ms, median decode tokens/s)."""


def _usable(value: Any) -> bool:
    return isinstance(value, (int, float)) and value == value and value > 0


def assistant_scores(rows: Iterable[Mapping[str, Any]]) -> list[AssistantScore]:
    """Scores of every (target, model) with at least one measured category (pure)."""
    groups: dict[tuple[str, str], dict[str, list[Mapping[str, Any]]]] = {}
    for row in rows:
        workload = text_value(row.get("workload_id"))
        if row.get("status") != "ok" or not workload.startswith(PREFIX):
            continue
        key = (target_label(dict(row)), text_value(row.get("model_id")))
        groups.setdefault(key, {}).setdefault(workload.removeprefix(PREFIX), []).append(row)
    if not groups:
        return []
    from scipy.stats import gmean  # heavy (~0.8 s): loaded only when there are assistant rows, not at the CLI start

    scores = []
    for (target, model), by_category in sorted(groups.items()):
        parts = {}
        for category, group in sorted(by_category.items()):
            ttft = [float(r["ttft_ms"]) for r in group if _usable(r.get("ttft_ms"))]
            decode = [float(r["decode_tps"]) for r in group if _usable(r.get("decode_tps"))]
            if ttft and decode:
                parts[category] = (statistics.median(ttft), statistics.median(decode))
        if parts:
            scores.append(AssistantScore(target, model, float(gmean([t for t, _ in parts.values()])),
                                         float(gmean([d for _, d in parts.values()])), parts))
    return scores


def assistant_table(scores: list[AssistantScore]) -> list[tuple[str, ...]]:
    """Rows for a text table: one score line per target and model, then one line per category beneath it."""
    out = []
    for score in scores:
        n = len(score.categories)
        out.append((score.target, score.model_id, f"overall ({n} categor{'y' if n == 1 else 'ies'}, geometric mean)",
                    f"{score.ttft_gmean_ms:.1f}", f"{score.decode_gmean_tps:.1f}"))
        out.extend(("", "", f"  {category}", f"{ttft:.1f}", f"{decode:.1f}")
                   for category, (ttft, decode) in score.categories.items())
    return out


ASSISTANT_HEADERS = ("target", "model", "category", "TTFT ms", "decode tokens/s")
