"""The auto-dispatcher's decision: a pure ranking of measured targets for a task, a model and an objective.

Where onnxruntime's selection policies and OpenVINO AUTO follow a fixed order (NPU, GPU, CPU), this
ranks by evidence: the rows of a results store for this model, from this machine (or machines of the
same hardware class, labelled), grouped by target (framework, device, environment, execution provider,
precision, threads). Each target's expected value of the objective is a median with its bootstrap
95 % interval; a target whose median lies inside the best one's interval and vice versa is tied within noise; ties go to
the lower peak memory, then the lower load time.

A model family (one checkpoint built several ways: float32, int8, int4) is one choice: every variant x target
is a candidate, and a quality floor (``Constraints.min_quality`` on the question-set share or the token
agreement ``run --reference`` records) excludes a variant that answers worse than the app accepts, beside the
memory cap and the allowed precisions. Every excluded candidate says why (quality below the floor, over memory,
not measured) and every alternative why it lost (slower by how much, or tied and heavier).

Objectives (``OBJECTIVES``): ``ttft``, ``tpot`` and ``latency`` (text: TTFT at the prompt length plus
(new tokens - 1) x TPOT, TTFT interpolated linearly between measured prompt lengths and never
extrapolated), ``image`` (one image), ``throughput`` (classification items/s), ``batch`` (one
classification batch), ``memory`` (peak RSS) and ``cold`` (load time plus N calls).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from genai_harness.dispatch.decision import NO_CONSTRAINTS, QUALITY_METRICS, Candidate, Constraints, Decision
from genai_harness.dispatch.evidence import Evidence, measure_candidates
from genai_harness.errors import ConfigurationError, NoEvidenceError

if TYPE_CHECKING:
    import pandas as pd

STATIC_ORDER = ("NPU", "GPU", "CPU")
"""The order used with no evidence and no probe budget (the same as onnxruntime's PREFER_NPU)."""


def _quality_reason(candidate: Candidate, constraints: Constraints) -> str:
    """Why ``candidate`` fails the quality floor, or "" (pure)."""
    if constraints.min_quality is None:
        return ""
    metric = constraints.quality_metric
    if metric not in QUALITY_METRICS:
        raise ConfigurationError(f"unknown quality metric {metric!r}; one of {', '.join(QUALITY_METRICS)}")
    value = candidate.quality(metric)
    if value is None:
        return (f"quality ({metric}) not measured; measure it with `genai-harness run --reference --model "
                f"{candidate.model_id or 'MODEL'}`")
    if value < constraints.min_quality:
        return f"quality below the floor: {metric} {value:.3g} < {constraints.min_quality:.3g}"
    return ""


def _constraint_reason(candidate: Candidate, constraints: Constraints) -> str:
    if constraints.variants and candidate.model_id and candidate.model_id not in constraints.variants:
        return f"variant {candidate.model_id} not allowed"
    if constraints.frameworks and candidate.framework not in constraints.frameworks:
        return f"framework {candidate.framework} not allowed"
    if constraints.devices and not any(candidate.device == d or candidate.device.split(":")[0] == d
                                       for d in constraints.devices):
        return f"device {candidate.device} not allowed"
    if constraints.precisions:
        if not candidate.precision:
            return "unknown precision (recorded before numerics were read back)"
        if candidate.precision not in constraints.precisions:
            return f"precision {candidate.precision} not allowed"
    if constraints.max_memory_mib is not None and (candidate.peak_rss_mib is None
                                                   or candidate.peak_rss_mib > constraints.max_memory_mib):
        shown = "unknown" if candidate.peak_rss_mib is None else f"{candidate.peak_rss_mib:.0f} MiB"
        return f"over memory: peak {shown} over the cap {constraints.max_memory_mib:.0f} MiB"
    return _quality_reason(candidate, constraints)


def why_lost(candidate: Candidate, winner: Candidate, better: str) -> str:
    """Why ``candidate`` ranks below ``winner`` (pure): slower (with the ratio), or tied within noise and lost on
    peak memory or load time."""
    if tied_within_noise(candidate, winner):
        return f"tied within noise; {lost_tie(candidate, winner)}"
    if better == "lower":
        ratio = candidate.expected / winner.expected if winner.expected else math.inf
        return f"slower: {candidate.expected:.4g} vs {winner.expected:.4g} {winner.unit} ({ratio:.2f}x)"
    ratio = winner.expected / candidate.expected if candidate.expected else math.inf
    return f"lower: {candidate.expected:.4g} vs {winner.expected:.4g} {winner.unit} ({ratio:.2f}x less)"


def lost_tie(candidate: Candidate, winner: Candidate) -> str:
    """What ``candidate``, tied within noise with ``winner``, lost the tie on (pure): more peak memory or load time,
    else the tie-break's order."""
    for name, mine, theirs, unit in (("peak memory", candidate.peak_rss_mib, winner.peak_rss_mib, "MiB"),
                                     ("load time", candidate.load_s, winner.load_s, "s")):
        if mine is not None and theirs is not None and mine > theirs:
            return f"more {name} ({mine:.4g} vs {theirs:.4g} {unit})"
    return "ranked after on the tie-break"


def choose(evidence: Evidence, constraints: Constraints = NO_CONSTRAINTS, now: datetime | None = None) -> Decision:
    """The Decision from measured candidates: constraints applied, best first, ties to lower memory (pure)."""
    excluded = list(evidence.unmeasured)
    allowed = []
    for candidate in evidence.candidates:
        blocked = _constraint_reason(candidate, constraints)
        if blocked:
            excluded.append(f"{candidate.choice}: {blocked}")
        else:
            allowed.append(candidate)
    if not allowed:
        what = "variant x target" if any(c.model_id for c in evidence.candidates) else "target"
        error = NoEvidenceError(f"no measured {what} of {evidence.model!r} meets the objective and constraints: "
                                + "; ".join(excluded))
        error.constrained = bool(evidence.candidates)  # measured, but every candidate excluded: relax, not re-run
        raise error
    ordered = order_candidates(allowed, evidence.better)
    winner = ordered[0]
    ordered = [winner, *(dataclasses.replace(c, reason=why_lost(c, winner, evidence.better)) for c in ordered[1:])]
    ties = [c for c in ordered[1:] if tied_within_noise(c, winner)]
    kind = ("variant x target pair" if winner.model_id else "target") + ("s" if len(ordered) > 1 else "")
    reason = (f"{winner.choice}: {evidence.objective} {winner.expected:.4g} {evidence.unit} "
              f"[{winner.ci_low:.4g}-{winner.ci_high:.4g}], best of {len(ordered)} measured {kind}")
    if constraints.min_quality is not None:
        reason += (f"; quality {constraints.quality_metric} {winner.quality(constraints.quality_metric):.3g} "
                   f">= floor {constraints.min_quality:.3g}")
    if ties:
        reason += f"; tied within noise with {len(ties)} (chosen by lower peak memory, then load time)"
    if evidence.stale:
        reason += "; STALE evidence (other runtime versions)"
    return Decision(evidence.task, evidence.model, evidence.objective, winner, ordered[1:], reason, evidence.rows,
                    evidence.newest, _age_s(evidence.newest, now), evidence.stale, False, excluded)


def rank(frame: pd.DataFrame, *, task: str, model: str, objective: str, constraints: Constraints = NO_CONSTRAINTS,
         machine: dict[str, Any] | None = None, model_hash: str | None = None, prompt_tokens: int | None = None,
         new_tokens: int | None = None, calls: int = 10, allow_stale: bool = False,
         now: datetime | None = None, variants: Sequence[str] | None = None) -> Decision:
    """Rank every measured target for ``task``/``model`` by ``objective`` and return the Decision (pure).

    With ``variants`` (a family's catalog ids) every variant x target is ranked as one choice.
    :func:`measure_candidates` then :func:`choose`; see them for the rules and the errors.
    """
    evidence = measure_candidates(frame, task=task, model=model, objective=objective, machine=machine,
                                  model_hash=model_hash, prompt_tokens=prompt_tokens, new_tokens=new_tokens,
                                  calls=calls, allow_stale=allow_stale, variants=variants)
    return choose(evidence, constraints, now)


class Dispatcher:
    """Decisions from one loaded slice of a store, measured once per objective and then chosen per call.

    ``Dispatcher(frame, machine).decide(task=..., model=..., objective=..., constraints=...)``: the first
    call per (task, model, objective, lengths) pays for the grouping and intervals; every later one only
    applies constraints and order (the figure in benchmarks/RESULTS.md).
    """

    def __init__(self, frame: pd.DataFrame, machine: dict[str, Any] | None = None, *,
                 allow_stale: bool = False) -> None:
        self.frame = frame
        self.machine = machine
        self.allow_stale = allow_stale
        self._evidence: dict[tuple[Any, ...], Evidence] = {}

    def decide(self, *, task: str, model: str, objective: str, constraints: Constraints = NO_CONSTRAINTS,
               prompt_tokens: int | None = None, new_tokens: int | None = None, calls: int = 10,
               now: datetime | None = None, variants: Sequence[str] | None = None) -> Decision:
        """The Decision, with the measured candidates cached per (task, model, variants, objective, lengths,
        calls)."""
        key = (task, model, tuple(variants or ()), objective, prompt_tokens, new_tokens, calls)
        if key not in self._evidence:
            self._evidence[key] = measure_candidates(
                self.frame, task=task, model=model, objective=objective, machine=self.machine,
                prompt_tokens=prompt_tokens, new_tokens=new_tokens, calls=calls, allow_stale=self.allow_stale,
                variants=variants)
        return choose(self._evidence[key], constraints, now)


def tied_within_noise(a: Candidate, b: Candidate) -> bool:
    """Tied within noise: each one's expected value lies inside the other's interval.

    Plain overlap of two intervals is too loose for the few repetitions a store holds: with five
    samples the bootstrap interval of a median spans almost their whole range, so one slow outlier
    tied targets 8x apart (then the tie went to the lower memory: 7x regret on held-out data).
    """
    return b.ci_low <= a.expected <= b.ci_high and a.ci_low <= b.expected <= a.ci_high


def order_candidates(candidates: Sequence[Candidate], better: str) -> list[Candidate]:
    """Best first by expected value; candidates tied with the best within noise (see ``tied_within_noise``)
    come first among themselves by lower peak memory, then lower load time (pure).
    """
    sign = 1.0 if better == "lower" else -1.0
    by_value = sorted(candidates, key=lambda c: sign * c.expected)
    best = by_value[0]
    tied = [c for c in by_value if tied_within_noise(c, best)]
    rest = [c for c in by_value if not tied_within_noise(c, best)]

    def tie_key(c: Candidate) -> tuple[float, float, float]:
        return (c.peak_rss_mib if c.peak_rss_mib is not None else math.inf,
                c.load_s if c.load_s is not None else math.inf, sign * c.expected)

    return sorted(tied, key=tie_key) + rest


def _age_s(newest: str | None, now: datetime | None) -> float | None:
    if not newest or newest in ("NaT", "None"):
        return None
    try:
        stamp = datetime.fromisoformat(newest.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return ((now or datetime.now(timezone.utc)) - stamp).total_seconds()


def static_decision(task: str, model: str, objective: str, devices: Sequence[Candidate]) -> Decision:
    """With no evidence and no probe budget: the fixed order NPU, GPU, CPU over ``devices`` (pure)."""

    def order(c: Candidate) -> int:
        kind = c.device.split(":")[0].split(".")[0]
        return STATIC_ORDER.index(kind) if kind in STATIC_ORDER else len(STATIC_ORDER)

    ranked = sorted(devices, key=order)
    if not ranked:
        raise NoEvidenceError(f"no usable device for {task} with model {model!r}")
    return Decision(task, model, objective, ranked[0], ranked[1:],
                    "no evidence and no probe budget: static order NPU, GPU, CPU (not a measurement)",
                    static=True)
