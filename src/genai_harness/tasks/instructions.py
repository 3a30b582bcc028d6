"""Instruction counts per phase: the same spans as the wall-time metrics, counted in executed instructions.

In ``--measure instructions`` mode (:mod:`genai_harness.worker.instructions`) every reading of the cell's clock is
also a point where valgrind's callgrind dumps its instruction counter, so each clock reading has an instruction
count beside its time. The functions here turn a call's readings (its ``stamps``), mapped through ``count``
(reading -> instructions executed so far), into the ``instructions_*`` columns, by the same definitions as the
time metrics (DESIGN.md, "Metrics"): prefill is TTFT's span, per token is TPOT's, per step is the median step.
Their kind is ``instructions``; lower is better.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from genai_harness.tasks.metric import MetricInfo, metric_info
from genai_harness.tasks.timing import median

Count = Callable[[int], int]
"""A clock reading -> the instructions the process had executed when it was taken."""
KIND = "instructions"
"""The metric kind of every ``instructions_*`` column (compare gates it by its own rule: analysis/gate_rules)."""


def instruction_metric(name: str, label: str, tasks: tuple[str, ...], scope: str = "repetition") -> MetricInfo:
    """An ``instructions_*`` column: a count of executed instructions, lower is better."""
    return metric_info(name, label, "instructions", tasks, "lower", False, "{:.4g}", KIND, scope)


def call_counts(stamps: Mapping[str, Any], count: Count) -> dict[str, float]:
    """``instructions_call``: the whole measured call, from its ``start`` to its ``end`` reading (pure)."""
    return {"instructions_call": float(count(stamps["end"]) - count(stamps["start"]))}


def text_counts(stamps: Mapping[str, Any], count: Count) -> dict[str, float | None]:
    """A generate call: prefill (generate called with text to the first token: TTFT's span), per generated token
    ((last - first) / (n - 1): TPOT's) and the whole call (pure)."""
    tokens = [count(t) for t in stamps["tokens"]]
    start = count(stamps["start"])
    return {**call_counts(stamps, count), "instructions_prefill": float(tokens[0] - start),
            "instructions_per_token": (tokens[-1] - tokens[0]) / (len(tokens) - 1) if len(tokens) > 1 else None}


def image_counts(stamps: Mapping[str, Any], count: Count) -> dict[str, float | None]:
    """An image: the whole call and the median denoising step (the median interval between step readings; pure)."""
    steps: Sequence[int] = [count(t) for t in stamps["steps"]]
    gaps = [float(b - a) for a, b in itertools.pairwise(steps)]
    return {**call_counts(stamps, count), "instructions_per_step": median(gaps) if gaps else None}
