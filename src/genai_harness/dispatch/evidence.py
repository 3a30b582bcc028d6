"""The evidence a decision rests on: which stored rows count for this machine, and every measured target of one
task, model and objective with its expected value and 95 % interval (pure functions over a frame)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from genai_harness.analysis.keys import TARGET_COLUMNS, text_value
from genai_harness.analysis.statistics import bootstrap_ci, median
from genai_harness.dispatch.decision import Candidate
from genai_harness.dispatch.objectives import check_objective, cold_loads, objective_samples, per_run
from genai_harness.errors import NoEvidenceError, StaleEvidenceError
from genai_harness.host.fingerprint import hardware_class

EVIDENCE_COLUMNS: tuple[str, ...] = (
    "run_id", "recorded_at", "machine_fingerprint", "machine_profile", "runtime_versions", *TARGET_COLUMNS,
    "device_identifier", "device_options", "task", "workload_id", "model_id", "model_hash", "status", "load_s",
    "load_cold_s", "peak_rss_mb",
    "ttft_ms", "tpot_ms", "e2e_ms", "n_input_tokens", "n_new_tokens", "image_ms", "inference_ms", "items_per_s",
    # model variants ranked as one family: what each variant's weights are and its quality against the checkpoint
    "family", "weight_precision", "ref_answer_share", "ref_token_agreement",
)
"""The columns the dispatcher reads from a store (a slice, never the whole table)."""


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

    def key(values: Any) -> tuple[Any, ...]:  # a missing value is None in both walks (NA, NaN and None differ)
        return tuple(None if pd.isna(v) else v for v in values)

    for record in rows.drop_duplicates(keys)[[*keys, "machine_profile"]].to_dict("records"):
        labels[key(record[k] for k in keys)] = evidence_label(
            _json(record.get("machine_profile")), str(record.get("environment") or "default"),
            _json(record.get("runtime_versions")), machine)
    return pd.Series([labels[key(r)] for r in rows[keys].itertuples(index=False, name=None)], index=rows.index,
                     dtype=object)





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


def _quality(group: pd.DataFrame, column: str) -> float | None:
    """The median of a quality column over a target's rows, None when no row measured it (pure)."""
    if column not in group.columns:
        return None
    values = pd.to_numeric(group[column], errors="coerce").dropna()
    return float(values.median()) if len(values) else None


def measure_candidates(frame: pd.DataFrame, *, task: str, model: str, objective: str,
                       machine: dict[str, Any] | None = None, model_hash: str | None = None,
                       prompt_tokens: int | None = None, new_tokens: int | None = None, calls: int = 10,
                       allow_stale: bool = False, variants: Sequence[str] | None = None) -> Evidence:
    """The measured targets of ``task``/``model`` with their expected ``objective`` values (pure).

    With ``variants`` (the catalog ids of a family's builds, ``model`` naming the family) every variant x target
    is a candidate, each carrying its weight precision and its measured quality against the checkpoint.

    ``machine`` is this machine's profile (``machine_profile()``): rows count when of the same hardware
    class (other machines' labelled); rows whose environment had other runtime versions are stale and
    used only with ``allow_stale``. Raises :class:`NoEvidenceError` when no row matches and
    :class:`StaleEvidenceError` when only stale rows do.
    """
    unit, better = check_objective(task, objective)
    if frame is None or not len(frame):
        raise NoEvidenceError(f"no measurement of model {model!r} for {task} in the store")
    model_ids = list(variants) if variants else [model]
    rows = frame[(frame["status"] == "ok") & (frame["task"] == task) & (frame["model_id"].isin(model_ids))]
    if model_hash is not None and "model_hash" in rows.columns:
        rows = rows[rows["model_hash"] == model_hash]
    if not len(rows):
        raise NoEvidenceError(f"no successful measurement of model {model!r} for {task} in the store"
                              + (" with this model content (hash)" if model_hash else ""))
    rows = rows.assign(_evidence=label_evidence(rows, machine))
    rows = rows[rows["_evidence"].notna()]
    hint = "genai-harness run " + " ".join(f"--model {m}" for m in model_ids)
    if not len(rows):
        raise NoEvidenceError(f"the store measures {model!r} only on other hardware; run `{hint}` here (or probe)")
    fresh = rows[~rows["_evidence"].str.startswith("stale")]
    stale = not len(fresh)
    if stale and not allow_stale:
        raise StaleEvidenceError(f"the only measurements of {model!r} here were taken with other runtime versions "
                                 f"or software; re-run `{hint}` (or allow stale evidence)")
    rows = rows if stale else fresh
    group_columns = [c for c in (*TARGET_COLUMNS, "model_id") if c in rows.columns]
    candidates: list[Candidate] = []
    unmeasured: list[str] = []
    for key, group in rows.groupby(group_columns, dropna=False, sort=False):
        values = dict(zip(group_columns, key, strict=True))
        samples, why = objective_samples(group, task, objective, prompt_tokens=prompt_tokens,
                                         new_tokens=new_tokens, calls=calls)
        memory, load = per_run(group, "peak_rss_mb"), cold_loads(group)
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
            n=len(samples), evidence=str(group["_evidence"].iloc[0]),
            model_id=str(values.get("model_id") or model) if variants else "",
            weight_precision=_text(group["weight_precision"].dropna().iloc[-1]) if "weight_precision" in group.columns
            and group["weight_precision"].notna().any() else None,
            answer_share=_quality(group, "ref_answer_share"), agreement=_quality(group, "ref_token_agreement"))
        if samples:
            candidates.append(candidate)
        else:
            unmeasured.append(f"{candidate.choice}: {why}")
    newest = str(rows["recorded_at"].max()) if "recorded_at" in rows.columns else None
    return Evidence(task, model, objective, unit, better, tuple(candidates), tuple(unmeasured), len(rows), newest,
                    stale)
