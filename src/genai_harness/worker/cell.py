"""One benchmark cell, run inside a worker subprocess: load, warm up, measure.

A cell is (environment, framework, device, workload, model). It puts the cell's precision/threads
request into the device config, loads the pipeline once (``load_s``: construction to ready, runtime
import excluded) and refuses it if the numerics read back differ from the request. It runs the
workload's warm-up iterations unrecorded, then its repetitions (or until ``min_time_s`` of measuring),
reading the energy counter around each, and returns one metrics record per repetition. With
``reference`` it then compares the last output with the f32 CPU reference of the same model and inputs.
A target that compiles loads through its compiled-model cache and then measures its cold start
(:mod:`genai_harness.worker.cold_start`).
Every timing comes from the one injected clock. Under ``--measure instructions`` that clock is also valgrind's
phase marker (:mod:`genai_harness.worker.instructions`): the cell then runs at most :data:`INSTRUCTION_WARMUP`
warm-up calls and :data:`INSTRUCTION_REPETITIONS` repetitions (counts barely vary), and adds the ``instructions_*``
columns to each record; Python's cyclic garbage collector then runs between calls, not inside them.
Otherwise the cell also times a fixed calibration kernel at its start and before each repetition
(:mod:`genai_harness.worker.calibration`) and records its mean in every row's ``calib_ms``, unless the request
says ``machine_speed=False`` (``ab``: its paired rounds never read it).
"""

from __future__ import annotations

import dataclasses
import gc
import time
from pathlib import Path
from typing import Any

from genai_harness.backends import numerics as nx
from genai_harness.backends.base import Backend
from genai_harness.backends.registry import get_backend
from genai_harness.clock import Clock, default_clock, default_cpu_clock
from genai_harness.errors import MeasurementError
from genai_harness.host import energy
from genai_harness.host.memory import own_peak_rss_mb
from genai_harness.interface.devices import Device
from genai_harness.interface.tasks import Task
from genai_harness.tasks import checkpoint_reference, reference
from genai_harness.tasks import timing as metrics
from genai_harness.tasks.registry import task_kind
from genai_harness.worker import cold_start
from genai_harness.worker.calibration import CalibrationKernel
from genai_harness.worker.instructions import InstructionClock, clock_from_environment
from genai_harness.worker.load import LoadTime, fresh_loader, load_pipeline
from genai_harness.worker.protocol import INSTRUCTIONS, CellReply, CellRequest, RequestedNumerics
from genai_harness.workloads.spec import MAX_REPETITIONS, Workload

INSTRUCTION_WARMUP = 1
"""Warm-up calls of an instruction-mode cell: the first call's counts include one-time work (the first prefill of
tiny-llm on onnxruntime-genai costs about 5 times the second's); the second's no longer move."""
INSTRUCTION_REPETITIONS = 3
"""Repetitions of an instruction-mode cell (each costs about 50 times its wall time under callgrind)."""


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


@dataclasses.dataclass
class LoadedCell:
    """A cell's model loaded in this worker, ready to be measured (once, or once per ``ab`` round)."""

    request: CellRequest
    workload: Workload
    backend: Backend
    pipeline: Any
    took: LoadTime
    device: Device
    requested: RequestedNumerics
    counting: InstructionClock | None
    load_stamps: dict[str, int]
    cache: Any = None
    """The compiled-model cache plan of a target that compiles (None: it compiles nothing, or instruction mode)."""
    first: Any = None
    """How the first load went through that cache (:func:`cold_start.first_load`)."""


def load_cell(request: CellRequest, clock: Clock = default_clock, cpu_clock: Clock = default_cpu_clock) -> LoadedCell:
    """Load the model of the cell ``request`` describes (``load_s`` and ``load_cpu_s`` timed) and check its numerics."""
    workload = request.workload
    counting = clock_from_environment() if request.measure == INSTRUCTIONS else None
    if request.measure == INSTRUCTIONS and counting is None:
        raise MeasurementError("--measure instructions: this worker was not started under valgrind's callgrind; "
                               "no instruction count recorded")
    if counting is not None:  # Python's cyclic GC runs between calls only: where it would fall inside one is arbitrary
        gc.disable()
        gc.collect()
        clock = counting
        workload = dataclasses.replace(workload, warmup=min(workload.warmup, INSTRUCTION_WARMUP),
                                       repetitions=min(workload.repetitions, INSTRUCTION_REPETITIONS), min_time_s=0.0)
    precision, threads = cell_numerics(request.numerics, workload)
    device = with_numerics(request.device, precision, threads)
    backend = get_backend(request.framework, request.environment)
    model_path = Path(request.model.path)
    # an instruction count's load is the compile itself: no cache, no extra loads under callgrind
    cache = None if counting is not None else cold_start.plan_cache(
        backend, device, model_path, request.model.id, (precision, threads), request.cache_root, cold=request.cold)

    def load(on: Device) -> tuple[Any, LoadTime]:  # no CPU time under valgrind: its clock counts instructions
        return load_pipeline(backend, workload.task, model_path, on, clock, None if counting is not None else cpu_clock)

    first_load_reading = len(counting.readings) if counting is not None else 0
    pipeline, first = cold_start.first_load(load, device, cache)
    load_stamps = {"start": counting.readings[first_load_reading], "end": counting.readings[-1]} if counting else {}
    nx.check_honoured(request.framework, device.config, getattr(pipeline, "numerics", None))
    return LoadedCell(request, workload, backend, pipeline, first.took, device, RequestedNumerics(precision, threads),
                      counting, load_stamps, cache, first)


def measure_cell(cell: LoadedCell) -> tuple[CellReply, Any]:
    """The workload's warm-ups (unrecorded) and repetitions on the loaded pipeline: one record per repetition;
    and the last call's output (for the reference check)."""
    workload, pipeline, counting = cell.workload, cell.pipeline, cell.counting
    numerics = getattr(pipeline, "numerics", None)
    kind = task_kind(workload.task)
    call = kind.measured_call(workload.inputs, pipeline)
    # machine speed: meaningless under valgrind, and not asked for by ab's paired rounds
    kernel = CalibrationKernel() if counting is None and cell.request.machine_speed else None
    if kernel is not None:
        kernel.time_start()
    for _ in range(workload.warmup):
        _collect_between_calls(counting)
        call.once()
    meter, energy_why = energy.meter_for(cell.device)
    records: list[dict[str, Any]] = []
    gaps: list[list[float]] = []  # per repetition, the inter-token gaps (text cells)
    stamps: list[dict[str, Any]] = []  # per repetition, the clock readings of its call (instruction counts)
    measuring_start = time.monotonic()
    while len(records) < MAX_REPETITIONS:
        _collect_between_calls(counting)
        if kernel is not None:
            kernel.time_once()
        before = meter.read_j() if meter else 0.0
        record = call.once()
        if meter:
            joules = meter.delta_j(before, meter.read_j())
            record.update(energy_j=joules, **kind.energy_per_unit(record, joules))
        record.pop("n_images", None)
        gaps.append(record.pop("itl_ms", []))
        stamps.append(record.pop("stamps", {}))
        records.append(record)
        enough_reps = len(records) >= workload.repetitions
        if enough_reps and time.monotonic() - measuring_start >= workload.min_time_s:
            break
    if counting is not None:
        gc.enable()
        add_instruction_counts(records, stamps, counting, cell.load_stamps, kind)
    if kernel is not None:  # one value for the cell, on every row: the machine's speed while it ran
        for record in records:
            record["calib_ms"] = kernel.calib_ms
    reply = CellReply(
        load_s=cell.took.wall_s,
        load_cpu_s=cell.took.cpu_s,
        repetitions=records,
        actual_device=str(getattr(pipeline, "actual_device", cell.device.label)),
        versions=cell.backend.versions(),
        numerics=numerics.to_dict() if numerics is not None else None,
        requested=cell.requested,
        energy_source=meter.source if meter else f"none: {energy_why}",
        batch=call.batch,
        itl_by_position_ms=metrics.by_position_median(gaps),  # None where the task records no gaps
        peak_rss_mb=own_peak_rss_mb(),  # the cell's own peak, before any reference check below
    )
    return reply, call.last_output()


def run_cell(request: CellRequest, clock: Clock = default_clock) -> CellReply:
    """Execute the cell a worker request describes and return its measurements."""
    cell = load_cell(request, clock)
    reply, output = measure_cell(cell)
    model_path = Path(request.model.path)
    if cell.workload.reference:
        reply.reference = _reference(request.framework, cell.workload, cell.backend, model_path, output, cell.pipeline)
    if cell.cache is not None:  # after the measurement and its peak memory: the cold-start columns
        if request.cold_start:  # extra loads follow, each in a fresh process: this one's model is freed first
            cell.pipeline = output = None  # (a collection costs 0.04 s after an openvino load: not when none follow)
            gc.collect()
        fresh = fresh_loader(request.framework, cell.workload.task, model_path, request.environment,
                             cell.workload.timeout_s)
        reply.cold_start = cold_start.measure(fresh, cell.device, cell.cache, cell.first, extra=request.cold_start)
    return reply


def _collect_between_calls(counting: InstructionClock | None) -> None:
    """In instruction mode, collect Python's garbage before a call (the GC is off inside calls: a collection that
    fell inside one call and not another would move its count by whatever the collection cost)."""
    if counting is not None:
        gc.collect()


def add_instruction_counts(records: list[dict[str, Any]], stamps: list[dict[str, Any]], counting: InstructionClock,
                           load_stamps: dict[str, int], kind: Any) -> None:
    """Add each record's ``instructions_*`` columns: its call's readings and the load's (construction to ready)
    through the dumps' counts; a count that cannot be paired raises :class:`MeasurementError`."""
    count = counting.counter()
    load_span = float(count[load_stamps["end"]] - count[load_stamps["start"]])
    for record, call in zip(records, stamps, strict=True):
        if not call:
            raise MeasurementError("this task's calls give no clock readings; no instruction count recorded")
        record.update(kind.instruction_counts(call, count.__getitem__), instructions_load=load_span)


RUNTIME_REFERENCE = "same runtime, f32 on CPU"


def _reference(framework: str, workload: Workload, backend: Backend, model_path: Path, output: Any,
               measured: Any) -> dict[str, Any]:
    """The ``ref_*`` columns: against the float32 checkpoint where the model folder carries its reference (a model
    ``models build`` made), else against the same runtime at f32 on CPU. A reference that cannot be had records
    why in ``ref_error`` and never costs the cell its measured rows."""
    checkpoint = checkpoint_reference.load(model_path) if workload.task == Task.TEXT2TEXT else None
    source = checkpoint_reference.SOURCE_REAL if checkpoint else RUNTIME_REFERENCE
    try:
        if checkpoint is not None:
            return checkpoint_reference.agreement(measured, checkpoint)
        return {"ref_source": source, **_runtime_reference(framework, workload, backend, model_path, output, measured)}
    except Exception as exc:  # any failure of the reference (a quantized model refusing f32 ...) is recorded
        return {"ref_source": source, "ref_error": f"{type(exc).__name__}: {exc}"[:500]}


def _runtime_reference(framework: str, workload: Workload, backend: Backend, model_path: Path, output: Any,
                       measured: Any) -> dict[str, Any]:
    """Agreement of the cell's last output with the f32 CPU reference of the same model and inputs."""
    device = reference.reference_device(framework)
    pipeline = backend.create_pipeline(workload.task, model_path, device)
    nx.check_honoured(framework, device.config, getattr(pipeline, "numerics", None))
    kind = task_kind(workload.task)
    call = kind.measured_call(workload.inputs, pipeline)
    call.once()
    return kind.agreement(workload.inputs, output, call.last_output(), measured, pipeline)
