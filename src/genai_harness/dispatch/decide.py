"""The decision for a model on this machine: from the store's evidence, else from a probe, else the static order."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from genai_harness.backends.registry import backend_specs, backend_status
from genai_harness.config import load_config
from genai_harness.dispatch.decision import Candidate, Constraints, Decision
from genai_harness.dispatch.evidence import EVIDENCE_COLUMNS
from genai_harness.dispatch.objectives import check_objective
from genai_harness.dispatch.probe import probe
from genai_harness.dispatch.ranking import rank, static_decision
from genai_harness.errors import ConfigurationError, NoEvidenceError
from genai_harness.factories import DeviceFactory
from genai_harness.host.fingerprint import machine_profile
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import open_store, parse_store
from genai_harness.workloads.catalog import Catalog


def read_evidence(store: str | Path | None, task: str, model: str | Sequence[str]) -> Any:
    """The rows of ``model`` (one id, or a family's variant ids) for ``task`` from ``store`` (only the columns the
    dispatcher reads); never creates it."""
    return open_store(store, create=False).read(
        ResultFilter(model_ids=model if isinstance(model, str) else tuple(model), tasks=task, statuses="ok"),
        columns=EVIDENCE_COLUMNS)


def _store_exists(store: str | Path | None) -> bool:
    """Whether ``store`` (a path or a database URL) already holds a store; a URL's database is asked on read."""
    spec = parse_store(store)
    return isinstance(spec, str) or spec.exists()


def catalog_model(model: str, config: str | Path | None) -> Any:
    """The catalog entry of ``model``; for a family whose id is no model of its own, its first variant."""
    catalog = Catalog(load_config(Path(config) if config else None))
    if model not in catalog.models:
        members = family_members(catalog.models.values(), model)
        if members:
            return catalog.get(members[0])
    return catalog.get(model)


def family_members(models: Iterable[Any], family: str) -> list[str]:
    """The catalog ids of ``family``'s variants, sorted, when ``family`` names a family of two or more (pure).

    ``smollm2-135m`` names the family (the float32 variant has the family's id); ``smollm2-135m-int4`` names
    one variant and is no family, so pinning a variant stays possible.
    """
    members = sorted(m.id for m in models if getattr(m, "family", None) == family)
    return members if len(members) > 1 else []


def variants_of(model: str, config: str | Path | None) -> list[str]:
    """The variant ids ``model`` stands for: a family's builds, or [] for a single model."""
    return family_members(Catalog(load_config(Path(config) if config else None)).models.values(), model)


def usable_here(task: str, model: Any) -> list[Candidate]:
    """Every (framework, device) of this Python environment that can load ``model`` (for the static order)."""
    out = []
    for framework in backend_specs():
        status = backend_status(framework)
        if not status.available or task not in status.tasks or status.model_formats.get(task) not in model.formats:
            continue
        for device in DeviceFactory.enumerate(framework):
            if device.config.get("virtual"):
                continue
            out.append(Candidate(framework, device.label, "default", device.execution_provider, None, None,
                                 dict(device.config), math.nan, math.nan, math.nan, "", None, None, 0, "none"))
    return out


def decide(task: str, model: str, objective: str, *, store: str | Path | None = None,
           constraints: Constraints | None = None, prompt_tokens: int | None = None, new_tokens: int | None = None,
           calls: int = 10, probe_budget_s: float = 5.0, allow_stale: bool = False,
           config: str | Path | None = None, static_fallback: bool = True) -> Decision:
    """The Decision for ``model`` on this machine: from the store, else from a probe, else the static order.

    When ``model`` names a family of built variants (``smollm2-135m``: float32, int4, int8), every variant x target
    is ranked as one choice (see :func:`family_members`); ``constraints`` may set a quality floor.
    With ``static_fallback=False`` (the ``pick`` command) no evidence and no probe budget is an error
    (:class:`NoEvidenceError`; a missing store a :class:`StoreError`) instead of the static order.
    """
    check_objective(task, objective)
    entry = catalog_model(model, config)
    if entry.task != task:
        raise ConfigurationError(f"model {model!r} is a {entry.task} model, not {task}")
    machine = machine_profile()
    variants = variants_of(model, config) or None
    options = dict(task=task, model=model, objective=objective, constraints=constraints or Constraints(),
                   machine=machine, prompt_tokens=prompt_tokens, new_tokens=new_tokens, calls=calls,
                   allow_stale=allow_stale, variants=variants)
    wanted = variants or model

    if _store_exists(store) or not static_fallback:
        try:
            return rank(read_evidence(store, task, wanted), **options)
        except NoEvidenceError as exc:
            if probe_budget_s <= 0:
                if not static_fallback and getattr(exc, "constrained", False):
                    raise NoEvidenceError(f"{exc}; relax a constraint (--min-quality, --max-memory, --precision, "
                                          "--device ...) or measure other targets") from None
                if not static_fallback:
                    raise NoEvidenceError(f"{exc}; measure it with `genai-harness run --model {model}` or give a "
                                          "probe budget (--probe-budget SECONDS)") from None
                return static_decision(task, model, objective, usable_here(task, entry))
    elif probe_budget_s <= 0:
        return static_decision(task, model, objective, usable_here(task, entry))
    for one in variants or [model]:
        probe(task, one, store, probe_budget_s / len(variants or [model]), config=config)
    decision = rank(read_evidence(store, task, wanted), **options)
    return Decision(**{**decision.__dict__, "reason": decision.reason + "; from a probe just now"})


def model_path(task: str, framework: str, model: Any) -> Path:
    """Where ``framework`` loads ``model`` (a catalog entry) from for ``task``."""
    key = backend_status(framework).model_formats.get(task)
    return model.format_for(key, framework).path
