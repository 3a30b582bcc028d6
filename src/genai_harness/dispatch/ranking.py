"""The auto-dispatcher's decision: a pure ranking of measured targets for a task, a model and an objective.

Where onnxruntime's selection policies and OpenVINO AUTO follow a fixed order (NPU, GPU, CPU), this
ranks by evidence: the rows of a results store for this model, from this machine (or machines of the
same hardware class, labelled), grouped by target (framework, device, environment, execution provider,
precision, threads). Each target's expected value of the objective is a median with its bootstrap
95 % interval; a target whose median lies inside the best one's interval and vice versa is tied within noise; ties go to
the lower peak memory, then the lower load time.

Objectives (``OBJECTIVES``): ``ttft``, ``tpot`` and ``latency`` (text: TTFT at the prompt length plus
(new tokens - 1) x TPOT, TTFT interpolated linearly between measured prompt lengths and never
extrapolated), ``image`` (one image), ``throughput`` (classification items/s), ``batch`` (one
classification batch), ``memory`` (peak RSS) and ``cold`` (load time plus N calls).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from genai_harness.analysis.long_view import TARGET_COLUMNS, target_label, text_value
from genai_harness.analysis.statistics import bootstrap_ci, median
from genai_harness.errors import ConfigurationError, NoEvidenceError, StaleEvidenceError

if TYPE_CHECKING:
    import pandas as pd

OBJECTIVES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "ttft": (("text2text",), "ms", "lower"),
    "tpot": (("text2text",), "ms", "lower"),
    "latency": (("text2text",), "ms", "lower"),
    "image": (("text2image",), "ms", "lower"),
    "throughput": (("classification",), "items/s", "higher"),
    "batch": (("classification",), "ms", "lower"),
    "memory": (("text2text", "text2image", "classification"), "MiB", "lower"),
    "cold": (("text2text", "text2image", "classification"), "s", "lower"),
}
"""objective -> (tasks it applies to, unit, which direction is better)."""
_CALL_METRIC = {"text2text": "e2e_ms", "text2image": "image_ms", "classification": "inference_ms"}
STATIC_ORDER = ("NPU", "GPU", "CPU")
"""The order used with no evidence and no probe budget (the same as onnxruntime's PREFER_NPU)."""
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "run_id", "recorded_at", "machine_fingerprint", "machine_profile", "runtime_versions", *TARGET_COLUMNS,
    "device_identifier", "device_options", "task", "workload_id", "model_id", "model_hash", "status", "load_s",
    "peak_rss_mb",
    "ttft_ms", "tpot_ms", "e2e_ms", "n_input_tokens", "n_new_tokens", "image_ms", "inference_ms", "items_per_s",
)
"""The columns the dispatcher reads from a store (a slice, never the whole table)."""


@dataclass(frozen=True)
class Constraints:
    """What a candidate must satisfy: a peak-memory cap (MiB), allowed precisions, frameworks and devices."""

    max_memory_mib: float | None = None
    precisions: tuple[str, ...] | None = None
    frameworks: tuple[str, ...] | None = None
    devices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Candidate:
    """One measured target and what the evidence says it will give."""

    framework: str
    device: str
    environment: str
    execution_provider: str | None
    precision: str | None
    threads: int | None
    options: dict[str, Any]
    expected: float
    ci_low: float
    ci_high: float
    unit: str
    peak_rss_mib: float | None
    load_s: float | None
    n: int
    evidence: str
    """``this machine``, ``same hardware class (other machine)`` or ``stale: ...``."""
    reason: str = ""

    @property
    def target(self) -> str:
        """The readable target key."""
        return target_label(asdict(self))


@dataclass(frozen=True)
class Decision:
    """The dispatcher's pick for one task, model and objective, with the ranked alternatives and why."""

    task: str
    model: str
    objective: str
    winner: Candidate | None
    alternatives: list[Candidate] = field(default_factory=list)
    reason: str = ""
    evidence_rows: int = 0
    newest_evidence: str | None = None
    evidence_age_s: float | None = None
    stale: bool = False
    static: bool = False
    excluded: list[str] = field(default_factory=list)

    @property
    def framework(self) -> str | None:
        """The winner's framework."""
        return self.winner.framework if self.winner else None

    @property
    def device(self) -> str | None:
        """The winner's device selector."""
        return self.winner.device if self.winner else None

    @property
    def environment(self) -> str | None:
        """The winner's Python environment."""
        return self.winner.environment if self.winner else None

    @property
    def expected(self) -> float | None:
        """The winner's expected value of the objective."""
        return self.winner.expected if self.winner else None

    @property
    def options(self) -> dict[str, Any]:
        """The winner's device options (as recorded with its evidence)."""
        return dict(self.winner.options) if self.winner else {}

    @property
    def ci_low(self) -> float | None:
        """Low end of the 95 % interval of the winner's expected value."""
        return self.winner.ci_low if self.winner else None

    @property
    def ci_high(self) -> float | None:
        """High end of the 95 % interval of the winner's expected value."""
        return self.winner.ci_high if self.winner else None

    @property
    def unit(self) -> str | None:
        """The unit of the objective (``ms``, ``items/s``, ``MiB``, ``s``)."""
        return self.winner.unit if self.winner else None

    @property
    def ranked(self) -> list[Candidate]:
        """Winner first, then the alternatives."""
        return ([self.winner] if self.winner else []) + list(self.alternatives)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``pick --json``)."""
        out = asdict(self)
        for item, source in zip([out["winner"], *out["alternatives"]], self.ranked, strict=False):
            if item is not None:
                item["target"] = source.target
        return out


def decision_from_dict(data: dict[str, Any]) -> Decision:
    """Inverse of :meth:`Decision.to_dict` (pure)."""
    from dataclasses import fields as dataclass_fields

    names = {f.name for f in dataclass_fields(Candidate)}

    def candidate(item: dict[str, Any] | None) -> Candidate | None:
        return None if item is None else Candidate(**{k: v for k, v in item.items() if k in names})

    return Decision(**{**data, "winner": candidate(data.get("winner")),
                       "alternatives": [candidate(a) for a in data.get("alternatives", [])]})


def check_objective(task: str, objective: str) -> tuple[str, str]:
    """(unit, direction) of ``objective`` for ``task``; an unknown or mismatched one is a ConfigurationError."""
    if objective not in OBJECTIVES:
        raise ConfigurationError(f"unknown objective {objective!r}; objectives: {', '.join(OBJECTIVES)}")
    tasks, unit, better = OBJECTIVES[objective]
    if task not in tasks:
        fitting = [name for name, (t, _, _) in OBJECTIVES.items() if task in t]
        raise ConfigurationError(f"objective {objective!r} does not apply to task {task!r}; "
                                 f"for {task}: {', '.join(fitting)}")
    return unit, better


def _values(group: pd.DataFrame, column: str) -> list[float]:
    return [float(v) for v in group[column].dropna().tolist()] if column in group.columns else []


def _per_run(group: pd.DataFrame, column: str) -> list[float]:
    """A cell-scope metric (load time, peak RSS): one value per run."""
    if column not in group.columns:
        return []
    return [float(v) for v in group.dropna(subset=[column]).drop_duplicates("run_id")[column].tolist()]


def interpolate_ttft(group: pd.DataFrame, prompt_tokens: int) -> tuple[list[float], str]:
    """TTFT samples at ``prompt_tokens``, linear between the two nearest measured prompt lengths (pure).

    Outside the measured range it refuses (returns no samples and why): never extrapolated silently.
    """
    data = group.dropna(subset=["ttft_ms", "n_input_tokens"])
    lengths = sorted(int(n) for n in data["n_input_tokens"].unique())
    if not lengths:
        return [], "no TTFT measured"
    if prompt_tokens in lengths:
        return _values(data[data["n_input_tokens"] == prompt_tokens], "ttft_ms"), ""
    below = [n for n in lengths if n < prompt_tokens]
    above = [n for n in lengths if n > prompt_tokens]
    if not below or not above:
        return [], (f"{prompt_tokens} prompt tokens lie outside the measured {lengths[0]}-{lengths[-1]}; "
                    "measure a workload of that length (no extrapolation)")
    low, high = below[-1], above[0]
    weight = (prompt_tokens - low) / (high - low)
    a = np.asarray(_values(data[data["n_input_tokens"] == low], "ttft_ms"))
    b = np.asarray(_values(data[data["n_input_tokens"] == high], "ttft_ms"))
    size = min(a.size, b.size)
    samples = (1 - weight) * np.sort(a)[:size] + weight * np.sort(b)[:size]  # quantile-matched blend
    return samples.tolist(), ""


def objective_samples(group: pd.DataFrame, task: str, objective: str, *, prompt_tokens: int | None = None,
                      new_tokens: int | None = None, calls: int = 10) -> tuple[list[float], str]:
    """Samples of ``objective`` for one target's rows (pure); an empty list comes with the reason."""
    if objective == "ttft":
        if prompt_tokens is not None:
            return interpolate_ttft(group, prompt_tokens)
        return _values(group, "ttft_ms"), ""
    if objective == "tpot":
        return _values(group, "tpot_ms"), ""
    if objective == "latency":
        if prompt_tokens is None or new_tokens is None:
            raise ConfigurationError("objective 'latency' needs prompt_tokens and new_tokens "
                                     "(--prompt-tokens N --new-tokens M)")
        ttft, why = interpolate_ttft(group, prompt_tokens)
        tpot = _values(group, "tpot_ms")
        if not ttft or not tpot:
            return [], why or "no TPOT measured"
        size = min(len(ttft), len(tpot))
        return (np.sort(ttft)[:size] + (new_tokens - 1) * np.sort(tpot)[:size]).tolist(), ""
    if objective == "image":
        return _values(group, "image_ms"), ""
    if objective == "throughput":
        return _values(group, "items_per_s"), ""
    if objective == "batch":
        return _values(group, "inference_ms"), ""
    if objective == "memory":
        return _per_run(group, "peak_rss_mb"), ""
    loads, per_call = _per_run(group, "load_s"), median(_values(group, _CALL_METRIC[task]))
    if not loads or math.isnan(per_call):
        return [], "no load time or call latency measured"
    return [load + calls * per_call / 1000.0 for load in loads], ""


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def evidence_label(profile: dict[str, Any], environment: str, versions: dict[str, Any],
                   machine: dict[str, Any] | None) -> str | None:
    """How rows of one machine and environment count as evidence for ``machine`` (None: not at all), pure.

    ``machine`` is this machine's profile (``machine_profile()``). The same hardware class with the
    environment's runtime versions as installed now is fresh evidence (``this machine`` on this host,
    else ``same hardware class (other machine)``, labelled); other versions make it stale.
    """
    from genai_harness.host.fingerprint import hardware_class

    if machine is None:
        return "this machine"
    if not profile or hardware_class(profile) != hardware_class(machine):
        return None
    now = (machine.get("runtimes") or {}).get(environment)
    if now is not None and any(name in now and str(now[name]) != str(version) for name, version in versions.items()):
        return "stale: same hardware, other runtime versions"
    if profile.get("hostname") == machine.get("hostname"):
        return "this machine"
    return "same hardware class (other machine)"


def label_evidence(rows: pd.DataFrame, machine: dict[str, Any] | None) -> pd.Series:
    """The evidence label of every row, computed once per (machine, environment, runtime versions)."""
    keys = [c for c in ("machine_fingerprint", "environment", "runtime_versions") if c in rows.columns]
    labels: dict[tuple[Any, ...], str | None] = {}
    for record in rows.drop_duplicates(keys)[[*keys, "machine_profile"]].to_dict("records"):
        labels[tuple(record[k] for k in keys)] = evidence_label(
            _json(record.get("machine_profile")), str(record.get("environment") or "default"),
            _json(record.get("runtime_versions")), machine)
    return pd_series([labels[tuple(r)] for r in rows[keys].itertuples(index=False, name=None)], rows.index)


def pd_series(values: list[Any], index: Any) -> pd.Series:
    """A pandas Series (pandas imported lazily)."""
    import pandas as pd

    return pd.Series(values, index=index, dtype=object)


def _constraint_reason(candidate: Candidate, constraints: Constraints) -> str:
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
        return f"peak memory {shown} over the cap {constraints.max_memory_mib:.0f} MiB"
    return ""


def _text(value: Any) -> str | None:
    return text_value(value) or None


@dataclass(frozen=True)
class Evidence:
    """Every measured target of one task, model and objective with its expected value and interval.

    The costly part of a decision (grouping rows, bootstrap intervals); :func:`choose` then applies the
    constraints and the order in microseconds, so an app can decide per request.
    """

    task: str
    model: str
    objective: str
    unit: str
    better: str
    candidates: tuple[Candidate, ...]
    unmeasured: tuple[str, ...]
    rows: int
    newest: str | None
    stale: bool


def measure_candidates(frame: pd.DataFrame, *, task: str, model: str, objective: str,
                       machine: dict[str, Any] | None = None, model_hash: str | None = None,
                       prompt_tokens: int | None = None, new_tokens: int | None = None, calls: int = 10,
                       allow_stale: bool = False) -> Evidence:
    """The measured targets of ``task``/``model`` with their expected ``objective`` values (pure).

    ``machine`` is this machine's profile (``machine_profile()``): rows count when of the same hardware
    class (other machines' labelled); rows whose environment had other runtime versions are stale and
    used only with ``allow_stale``. Raises :class:`NoEvidenceError` when no row matches and
    :class:`StaleEvidenceError` when only stale rows do.
    """
    unit, better = check_objective(task, objective)
    if frame is None or not len(frame):
        raise NoEvidenceError(f"no measurement of model {model!r} for {task} in the store")
    rows = frame[(frame["status"] == "ok") & (frame["task"] == task) & (frame["model_id"] == model)]
    if model_hash is not None and "model_hash" in rows.columns:
        rows = rows[rows["model_hash"] == model_hash]
    if not len(rows):
        raise NoEvidenceError(f"no successful measurement of model {model!r} for {task} in the store"
                              + (" with this model content (hash)" if model_hash else ""))
    rows = rows.assign(_evidence=label_evidence(rows, machine))
    rows = rows[rows["_evidence"].notna()]
    if not len(rows):
        raise NoEvidenceError(f"the store measures {model!r} only on other hardware; run "
                              f"`genai-harness run --model {model}` here (or probe)")
    fresh = rows[~rows["_evidence"].str.startswith("stale")]
    stale = not len(fresh)
    if stale and not allow_stale:
        raise StaleEvidenceError(f"the only measurements of {model!r} here were taken with other runtime versions "
                                 "or software; re-run `genai-harness run --model "
                                 f"{model}` (or allow stale evidence)")
    rows = rows if stale else fresh
    group_columns = [c for c in TARGET_COLUMNS if c in rows.columns]
    candidates: list[Candidate] = []
    unmeasured: list[str] = []
    for key, group in rows.groupby(group_columns, dropna=False, sort=False):
        values = dict(zip(group_columns, key, strict=True))
        samples, why = objective_samples(group, task, objective, prompt_tokens=prompt_tokens,
                                         new_tokens=new_tokens, calls=calls)
        memory, load = _per_run(group, "peak_rss_mb"), _per_run(group, "load_s")
        options_text = group["device_options"].dropna().iloc[-1] if "device_options" in group.columns and \
            group["device_options"].notna().any() else "{}"
        threads = values.get("threads")
        low, high = (bootstrap_ci(samples) if len(samples) > 1 else (samples[0], samples[0])) if samples \
            else (math.nan, math.nan)
        candidate = Candidate(
            framework=str(values.get("framework")), device=str(values.get("device")),
            environment=_text(values.get("environment")) or "default",
            execution_provider=_text(values.get("execution_provider")), precision=_text(values.get("precision")),
            threads=None if _text(threads) is None else int(threads), options=json.loads(options_text),
            expected=median(samples), ci_low=low, ci_high=high, unit=unit,
            peak_rss_mib=median(memory) if memory else None, load_s=median(load) if load else None,
            n=len(samples), evidence=str(group["_evidence"].iloc[0]))
        if samples:
            candidates.append(candidate)
        else:
            unmeasured.append(f"{candidate.target}: {why}")
    newest = str(rows["recorded_at"].max()) if "recorded_at" in rows.columns else None
    return Evidence(task, model, objective, unit, better, tuple(candidates), tuple(unmeasured), len(rows), newest,
                    stale)


def choose(evidence: Evidence, constraints: Constraints = Constraints(), now: datetime | None = None) -> Decision:
    """The Decision from measured candidates: constraints applied, best first, ties to lower memory (pure)."""
    excluded = list(evidence.unmeasured)
    allowed = []
    for candidate in evidence.candidates:
        blocked = _constraint_reason(candidate, constraints)
        if blocked:
            excluded.append(f"{candidate.target}: {blocked}")
        else:
            allowed.append(candidate)
    if not allowed:
        raise NoEvidenceError(f"no measured target of {evidence.model!r} meets the objective and constraints: "
                              + "; ".join(excluded))
    ordered = order_candidates(allowed, evidence.better)
    winner = ordered[0]
    ties = [c for c in ordered[1:] if _overlaps(c, winner)]
    reason = (f"{winner.target}: {evidence.objective} {winner.expected:.4g} {evidence.unit} "
              f"[{winner.ci_low:.4g}-{winner.ci_high:.4g}], best of {len(ordered)} measured targets")
    if ties:
        reason += f"; tied within noise with {len(ties)} (chosen by lower peak memory, then load time)"
    if evidence.stale:
        reason += "; STALE evidence (other runtime versions)"
    return Decision(evidence.task, evidence.model, evidence.objective, winner, ordered[1:], reason, evidence.rows,
                    evidence.newest, _age_s(evidence.newest, now), evidence.stale, False, excluded)


def rank(frame: pd.DataFrame, *, task: str, model: str, objective: str, constraints: Constraints = Constraints(),
         machine: dict[str, Any] | None = None, model_hash: str | None = None, prompt_tokens: int | None = None,
         new_tokens: int | None = None, calls: int = 10, allow_stale: bool = False,
         now: datetime | None = None) -> Decision:
    """Rank every measured target for ``task``/``model`` by ``objective`` and return the Decision (pure).

    :func:`measure_candidates` then :func:`choose`; see them for the rules and the errors.
    """
    evidence = measure_candidates(frame, task=task, model=model, objective=objective, machine=machine,
                                  model_hash=model_hash, prompt_tokens=prompt_tokens, new_tokens=new_tokens,
                                  calls=calls, allow_stale=allow_stale)
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

    def decide(self, *, task: str, model: str, objective: str, constraints: Constraints = Constraints(),
               prompt_tokens: int | None = None, new_tokens: int | None = None, calls: int = 10,
               now: datetime | None = None) -> Decision:
        """The Decision, with the measured candidates cached per (task, model, objective, lengths, calls)."""
        key = (task, model, objective, prompt_tokens, new_tokens, calls)
        if key not in self._evidence:
            self._evidence[key] = measure_candidates(
                self.frame, task=task, model=model, objective=objective, machine=self.machine,
                prompt_tokens=prompt_tokens, new_tokens=new_tokens, calls=calls, allow_stale=self.allow_stale)
        return choose(self._evidence[key], constraints, now)


def _replace(candidate: Candidate, **changes: Any) -> Candidate:
    import dataclasses

    return dataclasses.replace(candidate, **changes)


def _overlaps(a: Candidate, b: Candidate) -> bool:
    """Tied within noise: each one's expected value lies inside the other's interval.

    Plain overlap of two intervals is too loose for the few repetitions a store holds: with five
    samples the bootstrap interval of a median spans almost their whole range, so one slow outlier
    tied targets 8x apart (then the tie went to the lower memory: 7x regret on held-out data).
    """
    return b.ci_low <= a.expected <= b.ci_high and a.ci_low <= b.expected <= a.ci_high


def order_candidates(candidates: Sequence[Candidate], better: str) -> list[Candidate]:
    """Best first by expected value; candidates tied with the best within noise (see ``_overlaps``)
    come first among themselves by lower peak memory, then lower load time (pure).
    """
    sign = 1.0 if better == "lower" else -1.0
    by_value = sorted(candidates, key=lambda c: sign * c.expected)
    best = by_value[0]
    tied = [c for c in by_value if _overlaps(c, best)]
    rest = [c for c in by_value if not _overlaps(c, best)]

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
