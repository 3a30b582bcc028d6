"""Operator cells: one spec on one runtime target in its own subprocess, recorded as a schema-v2 row.

A refusal is a ``failed`` row whose ``error`` holds the runtime's words; a crash (signal) or hang is the
``crashed``/``timeout`` status; a result outside tolerance is ``ok`` with ``ref_within_tolerance`` 0.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from genai_harness.workloads.operators.build import agreement, build_model, make_inputs, reference_output
from genai_harness.workloads.operators.spec import OperatorSpec, validate_spec

RUN_ONE = Path(__file__).with_name("run_one.py")


@dataclass(frozen=True)
class OperatorTarget:
    """Where an operator cell runs: a framework, its provider (or ``openvino``), and an interpreter."""

    framework: str
    provider: str
    python: str
    environment: str = "default"


def matmul_peak_gflops(size: int = 1024, repeats: int = 5) -> float:
    """This machine's measured fp32 matmul peak (numpy, best of ``repeats``), in GFLOP/s."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((size, size), dtype=np.float32), rng.standard_normal((size, size), dtype=np.float32)
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2.0 * size**3 / best / 1e9


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def validate_specs(specs: list[OperatorSpec]) -> list[OperatorSpec]:
    """Every spec checked (and its model built, so a score_mod that does not type-check fails) before any cell."""
    for spec in specs:
        onnx.checker.check_model(build_model(validate_spec(spec)), full_check=spec.resolved_domain == "")
    return specs


def run_cell(spec: OperatorSpec, target: OperatorTarget, *, reps: int, peak_gflops: float,
             timeout_s: float = 120.0) -> dict[str, Any]:
    """One result row (without run identity) for ``spec`` on ``target``."""
    row: dict[str, Any] = {"task": "operator", "workload_id": spec.name, "framework": target.framework,
                           "execution_provider": target.provider, "device": "CPU", "device_identifier": "CPU",
                           "environment": target.environment, "python_executable": target.python,
                           "precision_requested": spec.dtype}
    feeds = make_inputs(spec)
    with tempfile.TemporaryDirectory() as tmp:
        model_path, feeds_path, out_path = Path(tmp, "m.onnx"), Path(tmp, "f.npz"), Path(tmp, "o.npz")
        onnx.save(build_model(spec), model_path)
        np.savez(feeds_path, **feeds)
        cmd = [target.python, str(RUN_ONE), str(model_path), str(feeds_path), str(out_path), target.provider,
               str(reps)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return {**row, "status": "timeout", "error": f"no answer within {timeout_s:.0f} s"}
        if proc.returncode != 0:
            words = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
            status = "failed" if proc.returncode == 3 else "crashed"
            return {**row, "status": status, "error": words, "error_type": "OperatorNotSupported"
                    if status == "failed" else "Crash"}
        out = np.load(out_path)
        got, times = out["Y"], out["times_ms"]
    abs_err, rel_err, within = agreement(spec, got, reference_output(spec, feeds))
    median_ms = float(statistics.median(times))
    gflops = spec.flops() / (median_ms / 1000.0) / 1e9
    return {**row, "status": "ok", "load_s": float(out["load_s"]), "inference_ms": median_ms,
            "ref_max_abs_error": abs_err, "ref_max_rel_error": rel_err, "ref_within_tolerance": int(within),
            "gflops_per_s": gflops, "peak_fraction": gflops / peak_gflops,
            "native_metrics": {"latencies_ms": [float(t) for t in times]}}
