"""Run operator cells inside a worker process: numpy and the one runtime a cell names, nothing else.

A batch worker (``op = "operator_batch"``) runs many cells in one interpreter, so the runtime is imported
once. Before each cell it appends ``{"start": ID}`` to the journal file and after it ``{"done": ID, ...}``;
if the process dies in a cell, the parent reads which one from the journal, records it crashed and starts
a fresh worker for the rest (:mod:`genai_harness.runner.operator_loop`). A runtime that refuses the
model is ``{"done": ID, "refused": "its own words"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from genai_harness.backends.ep_plugins import find_registration
from genai_harness.backends.ort_providers import ep_device_key
from genai_harness.clock import Clock, default_clock
from genai_harness.host.memory import own_peak_rss_mb, reset_own_peak_rss
from genai_harness.worker import protocol

FALLBACK_OFF = "session.disable_cpu_ep_fallback"
"""onnxruntime session option: a node the EP cannot take fails the session instead of running on the CPU EP."""


class OperatorRefused(Exception):
    """The runtime would not load or run the model; the message is its own words."""


class Readback(NamedTuple):
    """What the runtime says it runs a cell's model with."""

    actual_device: str
    precision: str
    runtime_version: str


def _journal(path: Path, entry: protocol.CellStarted | protocol.CellDone) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(entry.to_dict(), default=str) + "\n")
        fh.flush()


def run_batch(request: protocol.OperatorBatchRequest) -> protocol.OperatorBatchReply:
    """Run every cell of ``request.cells`` in order, journalling each (the worker's ``operator_batch`` op)."""
    journal = Path(request.journal)
    for cell in request.cells:
        _journal(journal, protocol.CellStarted(cell.id))
        try:
            done = protocol.CellDone(cell.id, reply=run_operator_cell(cell))
        except OperatorRefused as exc:
            done = protocol.CellDone(cell.id, refused=str(exc))
        except Exception as exc:  # not the runtime's refusal: the cell fails with what went wrong, the batch goes on
            kind = type(exc).__name__
            done = protocol.CellDone(cell.id, error=f"{kind}: {_words(exc)}", error_type=kind)
        _journal(journal, done)
    return protocol.OperatorBatchReply(len(request.cells))


def _words(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:2000] or type(exc).__name__


def _onnxruntime(cell: protocol.OperatorCellRequest) -> tuple[Any, Readback]:
    import onnxruntime as ort  # the runtime: loaded only by a worker whose cells name it

    ep = cell.execution_provider
    options = {str(k): str(v) for k, v in (cell.provider_options or {}).items()}
    if ep == "OpenVINOExecutionProvider" and cell.dtype == "float32":
        options.setdefault("precision", "FP32")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    providers: list[Any] | None = ["CPUExecutionProvider"]
    if cell.ep_library:  # a plugin EP: its library registered here, the session given its OrtEpDevice
        registration = find_registration(ort, cell.ep_library)
        chosen = [d for d in registration.devices if ep_device_key(d) == cell.ep_device]
        if registration.error or not chosen:
            raise OperatorRefused(registration.error or f"{registration.library.described} no longer offers the "
                                  f"EP device {cell.ep_device}")
        so.add_provider_for_devices(chosen, options)
        so.add_session_config_entry(FALLBACK_OFF, "1")
        providers = None
    elif ep != "CPUExecutionProvider":
        providers = [(ep, options)]
        so.add_session_config_entry(FALLBACK_OFF, "1")  # the EP runs the operator or the cell says it cannot
    try:
        session = ort.InferenceSession(cell.model, sess_options=so, providers=providers)
    except Exception as exc:
        raise OperatorRefused(_words(exc)) from None
    actual = session.get_providers()
    if ep not in actual:
        raise OperatorRefused(f"asked for {ep} but onnxruntime runs the model on {actual}")
    ran = session.get_provider_options().get(ep, {})
    precision = str(ran.get("precision", "")).lower() or ("f16" if cell.dtype == "float16" else "f32")
    readback = Readback(actual[0], {"fp32": "f32", "fp16": "f16"}.get(precision, precision), ort.__version__)
    return (lambda feeds: session.run(["Y"], feeds)[0]), readback


def _openvino(cell: protocol.OperatorCellRequest) -> tuple[Any, Readback]:
    import openvino as ov  # the runtime: loaded only by a worker whose cells name it

    core = ov.Core()
    hint = {"INFERENCE_PRECISION_HINT": "f16" if cell.dtype == "float16" else "f32"}
    try:
        compiled = core.compile_model(core.read_model(cell.model), cell.device or "CPU", hint)
    except Exception as exc:
        raise OperatorRefused(_words(exc)) from None
    precision = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    precision = precision.split("'")[1] if "'" in precision else precision
    readback = Readback(",".join(str(d) for d in compiled.get_property("EXECUTION_DEVICES")),
                        {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}.get(precision, precision),
                        ov.__version__)
    request = compiled.create_infer_request()
    return (lambda feeds: request.infer(feeds)[compiled.output(0)].copy()), readback


def run_operator_cell(cell: protocol.OperatorCellRequest, clock: Clock = default_clock) -> protocol.OperatorCellReply:
    """Load the cell's model on its runtime, run it once (the output), warm up, time ``repetitions`` runs."""
    reset_own_peak_rss()  # the peak reported is this cell's own
    feeds = dict(np.load(cell.feeds))
    start = clock()
    run, readback = (_openvino if cell.runtime == "openvino" else _onnxruntime)(cell)
    load_s = (clock() - start) / 1e9
    budget_ns = float(cell.max_time_s) * 1e9
    began = clock()
    try:
        y = run(feeds)  # the output checked against the reference; it warms up too
    except Exception as exc:
        raise OperatorRefused(_words(exc)) from None
    for _ in range(int(cell.warmup)):
        if clock() - began > budget_ns / 2:
            break
        run(feeds)
    began = clock()
    times_ms: list[float] = []
    while len(times_ms) < int(cell.repetitions):
        if len(times_ms) >= int(cell.min_repetitions) and clock() - began > budget_ns:
            break
        t0 = clock()
        run(feeds)
        times_ms.append((clock() - t0) / 1e6)
    np.save(cell.output, np.asarray(y))
    return protocol.OperatorCellReply(load_s=load_s, times_ms=times_ms, peak_rss_mb=own_peak_rss_mb(),
                             actual_device=readback.actual_device, precision=readback.precision,
                             runtime_version=readback.runtime_version)
