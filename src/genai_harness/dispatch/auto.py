"""Auto-selection for apps: decide from a store, probe when there is no evidence, open with a fallback chain.

``open_text2text(model, objective=..., store=...)`` (and ``open_text2image``, ``open_classifier``)
reads only this model's slice of the store (the filter runs in the store's query), ranks the measured
targets (:func:`genai_harness.dispatch.ranking.rank`), and opens the best one usable in this Python
environment. A candidate that fails to load, or whose short probe disagrees with the CPU reference of
the same framework (greedy token ids; image PSNR; top-1 class), is demoted with its reason and the
next one is tried; the chain ends on the CPU. Only when nothing at all can run does the app see
:class:`~genai_harness.errors.NoUsableDeviceError`.

With no evidence, a probe within ``probe_budget_s`` runs a short workload on each candidate in
isolated workers and stores the rows, so the next start decides at once; with a budget of 0 the static
order NPU, GPU, CPU is used and the decision says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genai_harness.dispatch.ranking import EVIDENCE_COLUMNS, Candidate, Constraints, Decision, rank, static_decision
from genai_harness.errors import HarnessError, NoEvidenceError, NoUsableDeviceError

PROBE_WORKLOADS: dict[str, str] = {
    "text2text": ('id = "probe-p32-g8"\nversion = 1\ntask = "text2text"\n[input]\nprompt_tokens = 32\n'
                  'new_tokens = 8\n[run]\nwarmup = 1\nrepetitions = 5\ntimeout_s = {timeout}\n'),
    "text2image": ('id = "probe-image-64-s2"\nversion = 1\ntask = "text2image"\n[input]\nwidth = 64\nheight = 64\n'
                   'steps = 2\n[run]\nwarmup = 1\nrepetitions = 3\ntimeout_s = {timeout}\n'),
    "classification": ('id = "probe-classify-b1"\nversion = 1\ntask = "classification"\n[input]\nbatch_size = 1\n'
                       '[run]\nwarmup = 1\nrepetitions = 5\ntimeout_s = {timeout}\n'),
}
"""The short workloads a probe measures (and the one every probe check compares outputs on)."""
MIN_PSNR_DB = 30.0
"""An image within this PSNR of the CPU reference agrees (bf16 against f32 gives about 46 dB here)."""


def read_evidence(store: str | Path | None, task: str, model: str) -> Any:
    """This model's rows for ``task`` from ``store`` (only the columns the dispatcher reads); never creates it."""
    from genai_harness.results.query import ResultFilter
    from genai_harness.results.stores import open_store

    return open_store(store, create=False).read(
        ResultFilter(model_ids=model, tasks=task, statuses="ok"), columns=EVIDENCE_COLUMNS)


def _store_exists(store: str | Path | None) -> bool:
    """Whether ``store`` (a path or a database URL) already holds a store; a URL's database is asked on read."""
    from genai_harness.results.store import DEFAULT_STORE
    from genai_harness.results.stores.urls import resolve_store_spec, scheme_of

    text = resolve_store_spec(store, DEFAULT_STORE)
    return bool(scheme_of(text)) or Path(text).exists()


def _catalog_model(model: str, config: str | Path | None) -> Any:
    from genai_harness.config import load_config
    from genai_harness.workloads.catalog import Catalog

    return Catalog(load_config(Path(config) if config else None)).get(model)


def probe(task: str, model: str, store: str | Path | None, budget_s: float, *,
          config: str | Path | None = None) -> None:
    """Measure ``model`` on every usable target of this environment with a short workload, within ``budget_s``.

    Cells run one by one in isolated workers and are stored as they end; cells that do not fit in the
    budget are not started.
    """
    import tempfile

    from genai_harness.results.stores import open_store
    from genai_harness.runner.cell_loop import new_run_context, run_plan
    from genai_harness.runner.plan import Plan
    from genai_harness.runner.prepare import prepare_run
    from genai_harness.runner.progress import Progress

    deadline = time.monotonic() + budget_s
    folder = Path(tempfile.mkdtemp(prefix="genai-probe-"))
    workload = folder / "probe.toml"
    workload.write_text(PROBE_WORKLOADS[task].format(timeout=max(5, math.ceil(budget_s))))
    suite = folder / "suite.toml"
    suite.write_text(f'id = "probe"\n[[entries]]\nworkload = "{workload}"\nmodels = ["{model}"]\n')
    prepared = prepare_run(str(suite), pythons=(), config=config, environments_only=("default",))
    result_store = open_store(store)
    result_store.check_writable()
    context = new_run_context(prepared.profile, prepared.env_versions)
    meter = Progress(len(prepared.plan.cells), None, False)
    written: list[dict[str, Any]] = []
    for cell in prepared.plan.cells:
        if time.monotonic() >= deadline:
            break
        run_plan(Plan([cell], []), result_store, context, meter, written)


def _usable_here(task: str, model: Any) -> list[Candidate]:
    """Every (framework, device) of this Python environment that can load ``model`` (for the static order)."""
    from genai_harness.backends.registry import backend_specs, backend_status
    from genai_harness.factories import DeviceFactory

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

    With ``static_fallback=False`` (the ``pick`` command) no evidence and no probe budget is an error
    (:class:`NoEvidenceError`; a missing store a :class:`StoreError`) instead of the static order.
    """
    from genai_harness.dispatch.ranking import check_objective
    from genai_harness.host.fingerprint import machine_profile

    check_objective(task, objective)
    catalog_model = _catalog_model(model, config)
    if catalog_model.task != task:
        from genai_harness.errors import ConfigurationError

        raise ConfigurationError(f"model {model!r} is a {catalog_model.task} model, not {task}")
    machine = machine_profile()
    options = dict(task=task, model=model, objective=objective, constraints=constraints or Constraints(),
                   machine=machine, prompt_tokens=prompt_tokens, new_tokens=new_tokens, calls=calls,
                   allow_stale=allow_stale)

    if _store_exists(store) or not static_fallback:
        try:
            return rank(read_evidence(store, task, model), **options)
        except NoEvidenceError as exc:
            if probe_budget_s <= 0:
                if not static_fallback:
                    raise NoEvidenceError(f"{exc}; measure it with `genai-harness run --model {model}` or give a "
                                          "probe budget (--probe-budget SECONDS)") from None
                return static_decision(task, model, objective, _usable_here(task, catalog_model))
    elif probe_budget_s <= 0:
        return static_decision(task, model, objective, _usable_here(task, catalog_model))
    probe(task, model, store, probe_budget_s, config=config)
    decision = rank(read_evidence(store, task, model), **options)
    return Decision(**{**decision.__dict__, "reason": decision.reason + "; from a probe just now"})


def _reference_output(task: str, pipeline: Any) -> Any:
    """A short deterministic output of ``pipeline`` to compare with the CPU reference."""
    if task == "text2text":
        from genai_harness.interface import text2text
        from genai_harness.workloads.prompts import prompt_with_tokens

        return list(pipeline(prompt_with_tokens(pipeline.encode, 32), text2text.GenerationConfig.exact(8)).token_ids)
    if task == "text2image":
        from genai_harness.interface import text2image

        config = text2image.GenerationConfig(image_width=64, image_height=64, num_inference_steps=2, rng_seed=1)
        return pipeline("a lighthouse on a rocky coast", config).tensor
    from genai_harness.interface.classification import ClassificationConfig

    return pipeline(pipeline.make_batch(ClassificationConfig(batch_size=1))).logits


def agrees(task: str, output: Any, reference: Any) -> tuple[bool, str]:
    """Whether a candidate's probe output agrees with the CPU reference's, and how far apart (pure)."""
    import numpy as np

    if task == "text2text":
        same = list(output) == list(reference)
        shown = f"greedy ids differ ({list(output)[:4]}... vs {list(reference)[:4]}...)"
        return same, "greedy ids equal" if same else shown
    if task == "text2image":
        from genai_harness.tasks.reference import psnr_db

        psnr = psnr_db(output, reference)
        return psnr >= MIN_PSNR_DB, f"PSNR {psnr:.1f} dB against the CPU reference (need {MIN_PSNR_DB:.0f})"
    same = bool((np.argmax(np.asarray(output), axis=-1) == np.argmax(np.asarray(reference), axis=-1)).all())
    return same, "top-1 equal" if same else "top-1 class differs from the CPU reference"


def _factory(task: str) -> Callable[..., Any]:
    from genai_harness import factories

    return {"text2text": factories.Text2TextPipelineFactory.create,
            "text2image": factories.Text2ImagePipelineFactory.create,
            "classification": factories.ClassificationPipelineFactory.create}[task]


def _model_path(task: str, framework: str, model: Any) -> Path:
    from genai_harness.backends.registry import backend_status

    key = backend_status(framework).model_formats.get(task)
    return model.format_for(key, framework).path


def _cache_file(task: str, model: str, objective: str, store: str | Path | None, constraints: Constraints | None,
                config: str | Path | None, options: dict[str, Any]) -> Path | None:
    """Where the decision for these arguments and this exact store file is remembered (None: no store yet)."""
    import hashlib
    import json
    import os
    import sys

    from genai_harness.results.store import DEFAULT_STORE

    path = Path(store or DEFAULT_STORE)
    try:
        stat = path.stat()
    except OSError:
        return None
    key = json.dumps([task, model, objective, str(path.resolve()), stat.st_mtime_ns, stat.st_size,
                      repr(constraints), str(config), sorted(options.items()), sys.executable], default=str)
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genai-harness" / "decisions"
    return folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")


def _remembered(cache: Path | None) -> tuple[Decision, dict[str, str]] | None:
    """A decision taken earlier from the same store file and arguments, with the model paths it used."""
    import json

    from genai_harness.dispatch.ranking import decision_from_dict

    if cache is None or not cache.is_file():
        return None
    try:
        data = json.loads(cache.read_text())
        return decision_from_dict(data["decision"]), dict(data["paths"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember(cache: Path | None, decision: Decision, paths: dict[str, str]) -> None:
    import json

    if cache is None or decision.static:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"decision": decision.to_dict(), "paths": paths}, default=str))
        tmp.replace(cache)
    except OSError:
        pass  # a cache that cannot be written only costs the next start a re-decision


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

    cache = _cache_file(task, model, objective, store, constraints, config, rank_options)
    remembered = _remembered(cache)
    if remembered is not None:
        decision, paths = remembered
        opened = _open_chain(task, model, decision, paths, check_output, config)
        if opened is not None:
            return opened
    decision = decide(task, model, objective, store=store, constraints=constraints, probe_budget_s=probe_budget_s,
                      config=config, **rank_options)
    catalog_model = _catalog_model(model, config)
    paths = {}
    for candidate in decision.ranked:
        try:
            paths[candidate.framework] = str(_model_path(task, candidate.framework, catalog_model))
        except HarnessError:
            continue
    cache = _cache_file(task, model, objective, store, constraints, config, rank_options)  # a probe may have written
    _remember(cache, decision, paths)
    opened = _open_chain(task, model, decision, paths, check_output, config, catalog_model)
    if opened is None:  # pragma: no cover - _open_chain raises when nothing opens
        raise NoUsableDeviceError(f"nothing can run {model!r} for {task} here")
    return opened


def _open_chain(task: str, model: str, decision: Decision, paths: dict[str, str], check_output: bool,
                config: str | Path | None, catalog_model: Any = None) -> Any:
    """Open the first candidate of ``decision`` that loads and agrees with the CPU reference.

    With ``catalog_model`` None (a remembered decision) a chain that opens nothing returns None, so the
    caller decides anew; otherwise it ends on the CPU and raises :class:`NoUsableDeviceError`.
    """
    from genai_harness.factories import DeviceFactory

    here = [c for c in decision.ranked if c.environment == "default"]
    elsewhere = [c for c in decision.ranked if c.environment != "default"]
    note = ""
    if elsewhere and here and not decision.static and elsewhere[0].expected == elsewhere[0].expected:
        ratio = here[0].expected / elsewhere[0].expected if elsewhere[0].expected else math.nan
        if decision.winner is not None and decision.winner.environment != "default":
            gain = ratio if decision.winner.unit != "items/s" else 1 / ratio
            note = (f"install environment {elsewhere[0].environment!r} (register it with `genai-harness envs "
                    f"--add`) to gain {gain:.1f}x with {elsewhere[0].target}")
    chain = list(here)
    if catalog_model is not None and not any(c.device.split(":")[0] == "CPU" for c in chain):
        chain += [c for c in _usable_here(task, catalog_model) if c.device == "CPU"]
    attempts: list[str] = []
    create = _factory(task)
    references: dict[str, Any] = {}
    for candidate in chain:
        try:
            if candidate.framework in paths:
                path = Path(paths[candidate.framework])
            elif catalog_model is not None:
                path = _model_path(task, candidate.framework, catalog_model)
            else:
                continue
            device = DeviceFactory.select(candidate.framework, candidate.device)
            pipeline = create(candidate.framework, path, device)
            if check_output and candidate.device.split(":")[0] != "CPU":
                if candidate.framework not in references:
                    cpu = create(candidate.framework, path, DeviceFactory.select(candidate.framework, "CPU"))
                    references[candidate.framework] = _reference_output(task, cpu)
                ok, how = agrees(task, _reference_output(task, pipeline), references[candidate.framework])
                if not ok:
                    attempts.append(f"{candidate.target}: demoted, probe disagrees with the CPU reference: {how}")
                    continue
        except HarnessError as exc:
            attempts.append(f"{candidate.target}: demoted, {exc}")
            continue
        pipeline.decision = decision
        pipeline.dispatch_attempts = [*attempts, f"{candidate.target}: opened"]
        pipeline.dispatch_note = note
        return pipeline
    if catalog_model is None:
        return None
    raise NoUsableDeviceError(f"nothing can run {model!r} for {task} here: " + "; ".join(attempts), attempts)


def open_text2text(model: str, objective: str = "ttft", *, store: str | Path | None = None,
                   probe_budget_s: float = 5.0, constraints: Constraints | None = None, **options: Any) -> Any:
    """A ready text2text pipeline on the best device for ``objective`` (ttft, tpot, latency, memory, cold)."""
    return open_best("text2text", model, objective, store=store, probe_budget_s=probe_budget_s,
                     constraints=constraints, **options)


def open_text2image(model: str, objective: str = "image", *, store: str | Path | None = None,
                    probe_budget_s: float = 5.0, constraints: Constraints | None = None, **options: Any) -> Any:
    """A ready text2image pipeline on the best device for ``objective`` (image, memory, cold)."""
    return open_best("text2image", model, objective, store=store, probe_budget_s=probe_budget_s,
                     constraints=constraints, **options)


def open_classifier(model: str, objective: str = "throughput", *, store: str | Path | None = None,
                    probe_budget_s: float = 5.0, constraints: Constraints | None = None, **options: Any) -> Any:
    """A ready classification pipeline on the best device for ``objective`` (throughput, batch, memory, cold)."""
    return open_best("classification", model, objective, store=store, probe_budget_s=probe_budget_s,
                     constraints=constraints, **options)


def ort_policy_delegate(objective: str = "batch", store: str | Path | None = None, *, model: str | None = None,
                        task: str = "classification") -> Callable[[Sequence[Any], Any, Any, int], list[Any]]:
    """A delegate for onnxruntime's ``SessionOptions.set_provider_selection_policy_delegate``.

    It orders the ``OrtEpDevice``s onnxruntime offers by this machine's measurements of onnxruntime
    targets (``model``, or every model of ``task`` in the store): the EP of the best measured target
    first; EPs never measured keep onnxruntime's order after the measured ones. Returns at most
    ``max_selections`` devices.
    """
    from genai_harness.host.fingerprint import machine_profile
    from genai_harness.results.query import ResultFilter
    from genai_harness.results.stores import open_store

    frame = open_store(store, create=False).read(
        ResultFilter(frameworks="onnxruntime", tasks=task, statuses="ok", model_ids=model), columns=EVIDENCE_COLUMNS)
    models = [model] if model else sorted(set(frame["model_id"].dropna()))
    scores: dict[str, list[int]] = {}
    machine = machine_profile()
    for name in models:
        try:
            decision = rank(frame, task=task, model=name, objective=objective, machine=machine, allow_stale=True)
        except NoEvidenceError:
            continue
        for position, candidate in enumerate(decision.ranked):
            if candidate.environment == "default" and candidate.execution_provider:
                scores.setdefault(candidate.execution_provider, []).append(position)
    order = {ep: sum(p) / len(p) for ep, p in scores.items()}

    def delegate(ep_devices: Sequence[Any], model_metadata: Any, runtime_metadata: Any,
                 max_selections: int) -> list[Any]:
        indexed = list(enumerate(ep_devices))
        indexed.sort(key=lambda item: (order.get(item[1].ep_name, math.inf), item[0]))
        return [device for _, device in indexed[:max(1, int(max_selections))]]

    delegate.measured_order = order  # type: ignore[attr-defined]
    return delegate
