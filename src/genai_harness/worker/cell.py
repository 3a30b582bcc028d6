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
from genai_harness.backends.base import Backend
from genai_harness.backends.registry import get_backend
from genai_harness.clock import Clock, default_clock
from genai_harness.host import energy
from genai_harness.interface.devices import Device
from genai_harness.tasks import reference
from genai_harness.tasks import timing as metrics
from genai_harness.tasks.registry import task_kind
from genai_harness.worker.main import own_peak_rss_mb
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


def cell_numerics(request: dict[str, Any], workload: Workload) -> tuple[str, int | None]:
    """The cell's (precision, threads): the request's (CLI/API) override the workload's ``[run]``."""
    asked = request.get("numerics") or {}
    precision = asked.get("precision") or workload.precision
    threads = asked.get("threads") if asked.get("threads") is not None else workload.threads
    return nx.check_precision(precision), nx.check_threads(threads)


def run_cell(request: dict[str, Any], clock: Clock = default_clock) -> dict[str, Any]:
    """Execute the cell a worker request describes and return its measurements."""
    workload = Workload.from_dict(request["workload"])
    precision, threads = cell_numerics(request, workload)
    device = with_numerics(Device.from_dict(request["device"]), precision, threads)
    backend = get_backend(request["framework"], request.get("environment", "default"))
    model_path = Path(request["model"]["path"])
    pipeline, load_s = load_pipeline(backend, workload.task, model_path, device, clock)
    numerics = getattr(pipeline, "numerics", None)
    nx.check_honoured(request["framework"], device.config, numerics)

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
    response: dict[str, Any] = {
        "load_s": load_s,
        "actual_device": str(getattr(pipeline, "actual_device", device.label)),
        "versions": backend.versions(),
        "repetitions": records,
        "numerics": numerics.to_dict() if numerics is not None else None,
        "requested": {"precision": precision, "threads": threads},
        "energy_source": meter.source if meter else f"none: {energy_why}",
        "batch": shape,
        "itl_by_position_ms": metrics.by_position_median(gaps),  # None where the task records no gaps
    }
    peak = own_peak_rss_mb()
    if peak is not None:
        response["peak_rss_mb_before_reference"] = peak
    if workload.reference:
        response["reference"] = _reference(request, workload, backend, model_path, last_output(), pipeline)
    return response


def _per_unit(task: str, record: dict[str, Any], joules: float) -> dict[str, float]:
    return task_kind(task).energy_per_unit(record, joules)


def _reference(request: dict[str, Any], workload: Workload, backend: Backend, model_path: Path,
               output: Any, measured: Any) -> dict[str, Any]:
    """Agreement of the cell's last output with the f32 CPU reference of the same model and inputs (the ``ref_*``
    columns the task defines)."""
    device = reference.reference_device(request["framework"])
    pipeline = backend.create_pipeline(workload.task, model_path, device)
    nx.check_honoured(request["framework"], device.config, getattr(pipeline, "numerics", None))
    rerun, ref_output, _shape = _runner_for(workload, pipeline)
    rerun()
    return task_kind(workload.task).agreement(workload.inputs, output, ref_output(), measured, pipeline)


def _runner_for(workload: Workload, pipeline: Any) -> tuple[Callable[[], dict[str, Any]], Callable[[], Any],
                                                             dict[str, Any]]:
    """(one measured call, the last call's output, the batch that really runs)."""
    call = task_kind(workload.task).measured_call(workload.inputs, pipeline)
    return call.once, call.last_output, call.batch
