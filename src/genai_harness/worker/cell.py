"""One benchmark cell, run inside a worker subprocess: load, warm up, measure.

A cell is (environment, framework, device, workload, model). It puts the cell's precision/threads
request into the device config, loads the pipeline once (``load_s``: construction to ready, runtime
import excluded) and refuses it if the numerics read back differ from the request. It runs the
workload's warm-up iterations unrecorded, then its repetitions (or until ``min_time_s`` of measuring),
reading the energy counter around each, and returns one metrics record per repetition. With
``reference`` it then compares the last output with the f32 CPU reference of the same model and inputs.
Every timing comes from the one injected clock.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genai_harness.backends import numerics as nx
from genai_harness.backends.base import TASK_TEXT2IMAGE, TASK_TEXT2TEXT, Backend
from genai_harness.backends.registry import get_backend
from genai_harness.clock import Clock, default_clock
from genai_harness.errors import GenerationError
from genai_harness.host import energy
from genai_harness.host.memory import own_peak_rss_mb
from genai_harness.interface.devices import Device
from genai_harness.tasks import reference
from genai_harness.tasks import timing as metrics
from genai_harness.worker.protocol import CellReply, CellRequest, RequestedNumerics
from genai_harness.workloads.spec import MAX_REPETITIONS, Workload


def load_pipeline(backend: Backend, task: str, model_path: Path, device: Device,
                  clock: Clock = default_clock) -> tuple[Any, float]:
    """The ready pipeline and its load time in seconds (construction to ready; runtime import excluded)."""
    backend.import_runtime()
    start = clock()
    pipeline = backend.create_pipeline(task, model_path, device)
    load_s = (clock() - start) / 1e9
    pipeline.clock = clock
    return pipeline, load_s


def with_numerics(device: Device, precision: str, threads: int | None) -> Device:
    """``device`` asking for ``precision`` and ``threads`` (the keys every backend reads from its config)."""
    config = {k: v for k, v in device.config.items() if k not in (nx.PRECISION_KEY, nx.THREADS_KEY)}
    if precision != "default":
        config[nx.PRECISION_KEY] = precision
    if threads is not None:
        config[nx.THREADS_KEY] = threads
    return dataclasses.replace(device, config=config)


def cell_numerics(asked: RequestedNumerics, workload: Workload) -> tuple[str, int | None]:
    """The cell's (precision, threads): the request's (CLI/API) override the workload's ``[run]``."""
    precision = asked.precision or workload.precision
    threads = asked.threads if asked.threads is not None else workload.threads
    return nx.check_precision(precision), nx.check_threads(threads)


def run_cell(request: CellRequest, clock: Clock = default_clock) -> CellReply:
    """Execute the cell a worker request describes and return its measurements."""
    workload = request.workload
    precision, threads = cell_numerics(request.numerics, workload)
    device = with_numerics(request.device, precision, threads)
    backend = get_backend(request.framework, request.environment)
    model_path = Path(request.model.path)
    pipeline, load_s = load_pipeline(backend, workload.task, model_path, device, clock)
    numerics = getattr(pipeline, "numerics", None)
    nx.check_honoured(request.framework, device.config, numerics)

    once, last_output, shape = _runner_for(workload, pipeline)
    for _ in range(workload.warmup):
        once()
    meter, energy_why = energy.meter_for(device)
    records: list[dict[str, Any]] = []
    gaps: list[list[float]] = []  # per repetition, the inter-token gaps (text cells)
    measuring_start = time.monotonic()
    while len(records) < MAX_REPETITIONS:
        before = meter.read_j() if meter else 0.0
        record = once()
        if meter:
            joules = meter.delta_j(before, meter.read_j())
            record.update(energy_j=joules, **_per_unit(workload.task, record, joules))
        record.pop("n_images", None)
        gaps.append(record.pop("itl_ms", []))
        records.append(record)
        enough_reps = len(records) >= workload.repetitions
        if enough_reps and time.monotonic() - measuring_start >= workload.min_time_s:
            break
    reply = CellReply(
        load_s=load_s,
        repetitions=records,
        actual_device=str(getattr(pipeline, "actual_device", device.label)),
        versions=backend.versions(),
        numerics=numerics.to_dict() if numerics is not None else None,
        requested=RequestedNumerics(precision, threads),
        energy_source=meter.source if meter else f"none: {energy_why}",
        batch=shape,
        itl_by_position_ms=metrics.by_position_median(gaps) if workload.task == TASK_TEXT2TEXT else None,
        peak_rss_mb=own_peak_rss_mb(),  # the cell's own peak, before any reference check below
    )
    if workload.reference:
        # _reference reads the request as the dict the worker received
        reply.reference = _reference(request.to_dict(), workload, backend, model_path, last_output(), pipeline)
    return reply


def _per_unit(task: str, record: dict[str, Any], joules: float) -> dict[str, float]:
    if task == TASK_TEXT2TEXT and record.get("n_new_tokens"):
        return {"energy_per_token_j": joules / record["n_new_tokens"]}
    if task == TASK_TEXT2IMAGE and record.get("n_images"):
        return {"energy_per_image_j": joules / record["n_images"]}
    return {}


def _reference(request: dict[str, Any], workload: Workload, backend: Backend, model_path: Path,
               output: Any, measured: Any) -> dict[str, Any]:
    """Agreement of the cell's last output with the f32 CPU reference of the same model and inputs.

    Text: token agreement and first divergence; where the runtime exposes logits (``logits_along``), also
    their largest difference along the reference's tokens.
    """
    device = reference.reference_device(request["framework"])
    pipeline = backend.create_pipeline(workload.task, model_path, device)
    nx.check_honoured(request["framework"], device.config, getattr(pipeline, "numerics", None))
    rerun, _output, _shape = _runner_for(workload, pipeline)
    rerun()
    ref_output = _output()
    if workload.task == TASK_TEXT2TEXT:
        share, first = reference.token_agreement(output, ref_output)
        agreement: dict[str, Any] = {"ref_token_agreement": share, "ref_first_divergence": first}
        if hasattr(measured, "logits_along") and hasattr(pipeline, "logits_along"):
            from genai_harness.workloads.prompts import prompt_with_tokens

            prompt_ids = pipeline.encode(prompt_with_tokens(pipeline.encode, int(workload.inputs["prompt_tokens"])))
            agreement["ref_logits_max_diff"] = reference.max_abs_diff(
                measured.logits_along(prompt_ids, ref_output), pipeline.logits_along(prompt_ids, ref_output))
        return agreement
    if workload.task == TASK_TEXT2IMAGE:
        return {"ref_psnr_db": reference.psnr_db(output, ref_output)}
    top1, max_diff = reference.classification_agreement(output, ref_output)
    return {"ref_top1_agreement": top1, "ref_max_score_diff": max_diff}


def _runner_for(workload: Workload, pipeline: Any) -> tuple[Callable[[], dict[str, Any]], Callable[[], Any],
                                                             dict[str, Any]]:
    """(one measured call, the last call's output, the batch that really runs)."""
    inputs = workload.inputs
    last: list[Any] = [None]
    if workload.task == TASK_TEXT2TEXT:
        from genai_harness.interface import text2text
        from genai_harness.workloads.prompts import prompt_with_tokens

        n_prompt, n_new = int(inputs["prompt_tokens"]), int(inputs["new_tokens"])
        prompt = prompt_with_tokens(pipeline.encode, n_prompt)
        config = text2text.GenerationConfig.exact(n_new)


        def run_text() -> dict[str, Any]:
            result = pipeline(prompt, config)
            if len(result.token_ids) != n_new:
                raise GenerationError(f"{pipeline.framework} produced {len(result.token_ids)} tokens, "
                                      f"the workload forces {n_new}")
            last[0] = result.token_ids
            row = metrics.text_metrics(result.start_ns, result.token_ns, result.end_ns, len(result.input_token_ids))
            return {**row, "native_metrics": result.native_metrics, "itl_ms": metrics.intervals_ms(result.token_ns)}

        return run_text, lambda: last[0], {}
    if workload.task == TASK_TEXT2IMAGE:
        from genai_harness.interface import text2image

        image_config = text2image.GenerationConfig(
            image_width=inputs["width"], image_height=inputs["height"], num_inference_steps=inputs["steps"],
            guidance_scale=inputs["guidance_scale"], rng_seed=inputs["seed"],
        )

        def run_image() -> dict[str, Any]:
            result = pipeline(inputs["prompt"], image_config)
            last[0] = result.tensor
            return {**metrics.image_metrics(result.start_ns, result.step_ns, result.end_ns),
                    "n_images": int(result.tensor.shape[0]), "native_metrics": result.native_metrics}

        return run_image, lambda: last[0], {}
    from genai_harness.interface.classification import ClassificationConfig

    batch_size = int(inputs["batch_size"])
    batch = pipeline.make_batch(ClassificationConfig(batch_size=batch_size))
    model_batch = getattr(pipeline, "model_batch", None)
    # A model with a fixed batch (the bundled classifiers take 1) is fed as it allows, item by item: the row
    # says so (batch_size = the batch that ran, batch_requested = the workload's), items/s counts every item.
    ran = model_batch if model_batch and model_batch != batch_size else batch_size
    shape = {"batch_size": ran, "batch_requested": batch_size if ran != batch_size else None}

    def run_classification() -> dict[str, Any]:
        result = pipeline(batch)
        last[0] = result.logits
        row = metrics.classification_metrics(result.start_ns, result.end_ns, batch_size)
        return {**row, **{k: v for k, v in shape.items() if v is not None}, "native_metrics": {}}

    return run_classification, lambda: last[0], shape
