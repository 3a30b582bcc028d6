"""Auto-selection for apps: decide from a store, probe when there is no evidence, open with a fallback chain.

``open_text2text(model, objective=..., store=...)`` (and ``open_text2image``, ``open_classifier``)
reads only this model's slice of the store (the filter runs in the store's query), ranks the measured
targets (:func:`genai_harness.dispatch.ranking.rank`), and opens the best one usable in this Python
environment. A candidate that fails to load, or whose short probe disagrees with the CPU reference of
the same framework (greedy token ids; image PSNR; top-1 class), is demoted with its reason and the
next one is tried; the chain ends on the CPU. Only when nothing at all can run does the app see
:class:`~genai_harness.errors.NoUsableDeviceError`.

A model family (``open_text2text("smollm2-135m", ...)`` where float32, int4 and int8 builds are registered) is
one choice: every variant x target is ranked, a quality floor in ``constraints`` excludes variants that answer
worse than the app accepts, and the pipeline's ``decision.winner.model_id`` says which variant opened where.

With no evidence, a probe within ``probe_budget_s`` runs a short workload on each candidate in
isolated workers and stores the rows, so the next start decides at once; with a budget of 0 the static
order NPU, GPU, CPU is used and the decision says so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from genai_harness.dispatch.cache import cache_file, remember, remembered
from genai_harness.dispatch.decide import catalog_model, decide, model_path, usable_here
from genai_harness.dispatch.decision import Candidate, Constraints, Decision
from genai_harness.dispatch.objectives import OBJECTIVES
from genai_harness.dispatch.ranking import lost_tie, tied_within_noise
from genai_harness.errors import HarnessError, NoUsableDeviceError
from genai_harness.factories import DeviceFactory, factory_for
from genai_harness.interface.tasks import Task
from genai_harness.tasks.registry import task_kind


def open_best(task: str, model: str, objective: str, *, store: str | Path | None = None,
              constraints: Constraints | None = None, probe_budget_s: float = 5.0, check_output: bool = True,
              config: str | Path | None = None, **rank_options: Any) -> Any:
    """A ready pipeline on the best candidate usable in this environment, falling back down to the CPU.

    The pipeline carries ``decision`` (the Decision) and ``dispatch_attempts`` (each candidate tried and
    why it was demoted). Raises :class:`NoUsableDeviceError` only when nothing at all can run.

    A decision is remembered (in ``$XDG_CACHE_HOME/genai-harness/decisions``) for the exact store file
    (path, size, modification time) and arguments, so the next start with unchanged evidence skips the
    store read and the ranking; any new row in the store, or other arguments, decide anew.
    """

    cache = cache_file(task, model, objective, store, constraints, config, rank_options)
    earlier = remembered(cache)
    if earlier is not None:
        decision, paths = earlier
        opened = _open_chain(task, model, decision, paths, check_output, config)
        if opened is not None:
            return opened
    decision = decide(task, model, objective, store=store, constraints=constraints, probe_budget_s=probe_budget_s,
                      config=config, **rank_options)
    entry = catalog_model(model, config)
    paths = {}
    entries = {"": entry}  # one catalog read per variant, not per candidate
    for candidate in decision.ranked:
        try:
            if candidate.model_id not in entries:
                entries[candidate.model_id] = catalog_model(candidate.model_id, config)
            paths[path_key(candidate)] = str(model_path(task, candidate.framework, entries[candidate.model_id]))
        except HarnessError:
            continue
    cache = cache_file(task, model, objective, store, constraints, config, rank_options)  # a probe may have written
    remember(cache, decision, paths)
    opened = _open_chain(task, model, decision, paths, check_output, config, entry)
    if opened is None:  # pragma: no cover - _open_chain raises when nothing opens
        raise NoUsableDeviceError(f"nothing can run {model!r} for {task} here")
    return opened


def path_key(candidate: Candidate) -> str:
    """The key of a candidate's model folder in a remembered decision: the framework, and the variant if any."""
    return f"{candidate.model_id}|{candidate.framework}" if candidate.model_id else candidate.framework


def install_note(here: Candidate, winner: Candidate, objective: str) -> str:
    """What installing the winner's environment would give over the best target usable here (pure): the gain, or,
    tied within noise, what the best here lost the tie on (never a "gain" the evidence cannot tell from noise)."""
    where = (f"install environment {winner.environment!r} (register it with `genai-harness envs --add`) "
             f"for {winner.target}")
    if tied_within_noise(here, winner):
        return (f"{where}: tied within noise on {objective} with {here.target} here, which has "
                f"{lost_tie(here, winner)}")
    _tasks, _unit, better = OBJECTIVES[objective]
    gain = (here.expected / winner.expected if better == "lower" else winner.expected / here.expected) \
        if here.expected and winner.expected else math.nan
    return f"{where}: {gain:.2f}x better on {objective} than {here.target} here"


def _open_chain(task: str, model: str, decision: Decision, paths: dict[str, str], check_output: bool,
                config: str | Path | None, catalog_model: Any = None) -> Any:
    """Open the first candidate of ``decision`` that loads and agrees with the CPU reference.

    With ``catalog_model`` None (a remembered decision) a chain that opens nothing returns None, so the
    caller decides anew; otherwise it ends on the CPU and raises :class:`NoUsableDeviceError`.
    """
    here = [c for c in decision.ranked if c.environment == "default"]
    elsewhere = [c for c in decision.ranked if c.environment != "default"]
    note = ""
    if (elsewhere and here and not decision.static and elsewhere[0].expected == elsewhere[0].expected
            and decision.winner is not None and decision.winner.environment != "default"):
        note = install_note(here[0], elsewhere[0], decision.objective)
    chain = list(here)
    if catalog_model is not None and not any(c.device.split(":")[0] == "CPU" for c in chain):
        chain += [c for c in usable_here(task, catalog_model) if c.device == "CPU"]
    attempts: list[str] = []
    create = factory_for(task)
    kind = task_kind(task)
    references: dict[str, Any] = {}
    for candidate in chain:
        try:
            if path_key(candidate) in paths:
                path = Path(paths[path_key(candidate)])
            elif catalog_model is not None and not candidate.model_id:
                path = model_path(task, candidate.framework, catalog_model)
            else:  # a variant whose folder this framework cannot load (or a remembered decision without it)
                continue
            device = DeviceFactory.select(candidate.framework, candidate.device)
            pipeline = create(candidate.framework, path, device)
            if check_output and candidate.device.split(":")[0] != "CPU":
                reference_key = path_key(candidate)  # the same variant's CPU output: int4 is not float32
                if reference_key not in references:
                    cpu = create(candidate.framework, path, DeviceFactory.select(candidate.framework, "CPU"))
                    references[reference_key] = kind.probe_output(cpu)
                ok, how = kind.probe_agrees(kind.probe_output(pipeline), references[reference_key])
                if not ok:
                    attempts.append(f"{candidate.choice}: demoted, probe disagrees with the CPU reference: {how}")
                    continue
        except HarnessError as exc:
            attempts.append(f"{candidate.choice}: demoted, {exc}")
            continue
        pipeline.decision = decision
        pipeline.dispatch_attempts = [*attempts, f"{candidate.choice}: opened"]
        pipeline.dispatch_note = note
        return pipeline
    if catalog_model is None:
        return None
    raise NoUsableDeviceError(f"nothing can run {model!r} for {task} here: " + "; ".join(attempts), attempts)


def open_text2text(model: str, objective: str = "ttft", *, store: str | Path | None = None,
                   probe_budget_s: float = 5.0, constraints: Constraints | None = None, **options: Any) -> Any:
    """A ready text2text pipeline on the best device for ``objective`` (ttft, tpot, latency, memory, cold).

    ``model`` may name a family of built variants (``smollm2-135m``): the best variant x target is opened, subject
    to ``constraints`` (``Constraints(min_quality=0.9)`` excludes variants that answer worse); the pipeline's
    ``decision.winner.model_id`` names the variant.
    """
    return open_best(Task.TEXT2TEXT, model, objective, store=store, probe_budget_s=probe_budget_s,
                     constraints=constraints, **options)


def open_text2image(model: str, objective: str = "image", *, store: str | Path | None = None,
                    probe_budget_s: float = 5.0, constraints: Constraints | None = None, **options: Any) -> Any:
    """A ready text2image pipeline on the best device for ``objective`` (image, memory, cold)."""
    return open_best(Task.TEXT2IMAGE, model, objective, store=store, probe_budget_s=probe_budget_s,
                     constraints=constraints, **options)


def open_classifier(model: str, objective: str = "throughput", *, store: str | Path | None = None,
                    probe_budget_s: float = 5.0, constraints: Constraints | None = None, **options: Any) -> Any:
    """A ready classification pipeline on the best device for ``objective`` (throughput, batch, memory, cold)."""
    return open_best(Task.CLASSIFICATION, model, objective, store=store, probe_budget_s=probe_budget_s,
                     constraints=constraints, **options)
