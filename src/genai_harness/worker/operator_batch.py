"""Run operator cells inside a worker process: numpy and the one runtime a cell names, nothing else.

A batch worker (``op = "operator_batch"``) runs many cells in one interpreter, so the runtime is imported
once. Before each cell it appends ``{"start": ID}`` to the journal file and after it ``{"done": ID, ...}``;
if the process dies in a cell, the parent reads which one from the journal, records it crashed and starts
a fresh worker for the rest (:mod:`genai_harness.runner.operator_loop`). A runtime that refuses the
model is ``{"done": ID, "refused": "its own words"}``.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from genai_harness.clock import Clock, default_clock

FALLBACK_OFF = "session.disable_cpu_ep_fallback"
"""onnxruntime session option: a node the EP cannot take fails the session instead of running on the CPU EP."""


class OperatorRefused(Exception):
    """The runtime would not load or run the model; the message is its own words."""


def _journal(path: Path, entry: dict[str, Any]) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")
        fh.flush()


def run_batch(request: dict[str, Any]) -> dict[str, Any]:
    """Run every cell of ``request["cells"]`` in order, journalling each (the worker's ``operator_batch`` op)."""
    journal = Path(request["journal"])
    for cell in request["cells"]:
        _journal(journal, {"start": cell["id"]})
        try:
            entry: dict[str, Any] = {"response": run_operator_cell(cell)}
        except OperatorRefused as exc:
            entry = {"refused": str(exc)}
        except Exception as exc:  # not the runtime's refusal: the cell fails with what went wrong, the batch goes on
            entry = {"error": f"{type(exc).__name__}: {_words(exc)}", "error_type": type(exc).__name__}
        _journal(journal, {"done": cell["id"], **entry})
    return {"cells": len(request["cells"])}


def _reset_peak_rss() -> None:
    """Reset this process's VmHWM so the next peak is the next cell's own (Linux >= 4.0; else a no-op)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _words(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:2000] or type(exc).__name__


def _onnxruntime(cell: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import onnxruntime as ort

    ep = cell["execution_provider"]
    options = {str(k): str(v) for k, v in (cell.get("provider_options") or {}).items()}
    if ep == "OpenVINOExecutionProvider" and cell["dtype"] == "float32":
        options.setdefault("precision", "FP32")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    providers: list[Any] = ["CPUExecutionProvider"]
    if ep != "CPUExecutionProvider":
        providers = [(ep, options)]
        so.add_session_config_entry(FALLBACK_OFF, "1")  # the EP runs the operator or the cell says it cannot
    try:
        session = ort.InferenceSession(cell["model"], sess_options=so, providers=providers)
    except Exception as exc:
        raise OperatorRefused(_words(exc)) from None
    actual = session.get_providers()
    if ep not in actual:
        raise OperatorRefused(f"asked for {ep} but onnxruntime runs the model on {actual}")
    ran = session.get_provider_options().get(ep, {})
    precision = str(ran.get("precision", "")).lower() or ("f16" if cell["dtype"] == "float16" else "f32")
    readback = {"actual_device": actual[0], "precision": {"fp32": "f32", "fp16": "f16"}.get(precision, precision),
                "runtime_version": ort.__version__}
    return (lambda feeds: session.run(["Y"], feeds)[0]), readback


def _openvino(cell: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import openvino as ov

    core = ov.Core()
    hint = {"INFERENCE_PRECISION_HINT": "f16" if cell["dtype"] == "float16" else "f32"}
    try:
        compiled = core.compile_model(core.read_model(cell["model"]), cell.get("device") or "CPU", hint)
    except Exception as exc:
        raise OperatorRefused(_words(exc)) from None
    precision = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    precision = precision.split("'")[1] if "'" in precision else precision
    readback = {"actual_device": ",".join(str(d) for d in compiled.get_property("EXECUTION_DEVICES")),
                "precision": {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}.get(precision, precision),
                "runtime_version": ov.__version__}
    request = compiled.create_infer_request()
    return (lambda feeds: request.infer(feeds)[compiled.output(0)].copy()), readback


def run_operator_cell(cell: dict[str, Any], clock: Clock = default_clock) -> dict[str, Any]:
    """Load the cell's model on its runtime, run it once (the output), warm up, time ``repetitions`` runs."""
    _reset_peak_rss()
    feeds = dict(np.load(cell["feeds"]))
    start = clock()
    run, readback = (_openvino if cell["runtime"] == "openvino" else _onnxruntime)(cell)
    load_s = (clock() - start) / 1e9
    budget_ns = float(cell.get("max_time_s", 0.5)) * 1e9
    began = clock()
    try:
        y = run(feeds)  # the output checked against the reference; it warms up too
    except Exception as exc:
        raise OperatorRefused(_words(exc)) from None
    for _ in range(int(cell["warmup"])):
        if clock() - began > budget_ns / 2:
            break
        run(feeds)
    began = clock()
    times_ms: list[float] = []
    while len(times_ms) < int(cell["repetitions"]):
        if len(times_ms) >= int(cell.get("min_repetitions", 1)) and clock() - began > budget_ns:
            break
        t0 = clock()
        run(feeds)
        times_ms.append((clock() - t0) / 1e6)
    np.save(cell["output"], np.asarray(y))
    from genai_harness.worker.main import own_peak_rss_mb

    return {"load_s": load_s, "times_ms": times_ms, "peak_rss_mb": own_peak_rss_mb(), **readback}
