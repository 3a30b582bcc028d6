"""SYNTHETIC fixture stores standing for machines this project lacks (NPUs of two vendors, a GPU).

Every number here is made up to exercise the dispatcher's logic; none was measured. Rows carry
``hostname = "synthetic-laptop"`` and a note in ``native_metrics`` saying so.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

SYNTHETIC = {"synthetic": "made-up numbers for dispatcher tests, not a measurement"}
RUNTIMES = {"default": {"onnxruntime-qnn": "1.32.0", "openvino": "2026.4.1"}}


def profile(host: str = "synthetic-laptop", cpu: str = "Synthetic SoC 12-core", runtimes: Any = None) -> dict[str, Any]:
    prof = {"cpu": {"brand": cpu, "arch": "X86_64", "logical_cores": 12, "flags": ["avx2"]},
            "memory": {"total_gb": 32.0}, "os": {"system": "Windows"}, "drivers": {"npu": "synthetic"},
            "runtimes": runtimes or RUNTIMES, "hostname": host}
    from genai_harness.host.fingerprint import fingerprint

    prof["fingerprint"] = fingerprint(prof)
    return prof


# target -> (framework, device, provider, precision, ttft median ms, tpot ms, peak MiB, load s)
TARGETS = {
    "qnn": ("onnxruntime_genai", "NPU:QNN", "QNNExecutionProvider", "int8", 40.0, 9.0, 900.0, 3.0),
    "ov-npu": ("openvino.genai", "NPU", None, "f16", 38.0, 12.0, 700.0, 6.0),
    "dml": ("onnxruntime_genai", "GPU:DML", "DmlExecutionProvider", "f16", 25.0, 14.0, 2400.0, 2.0),
    "cpu": ("onnxruntime_genai", "CPU", "CPUExecutionProvider", "f32", 120.0, 30.0, 1500.0, 1.0),
}


def rows(machine: dict[str, Any], targets: dict[str, tuple[Any, ...]] = TARGETS, reps: int = 10,
         prompt_lengths: tuple[int, ...] = (128, 1024), noise: float = 0.03, seed: int = 0,
         runtime_versions: dict[str, Any] | None = None, model: str = "phi-mini") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = []
    for name, (framework, device, provider, precision, ttft, tpot, rss, load) in targets.items():
        for length in prompt_lengths:
            run_id = f"synthetic-{name}-{length}"
            for rep in range(reps):
                scale = length / 128
                t = ttft * scale * (1 + rng.normal(0, noise))
                p = tpot * (1 + rng.normal(0, noise))
                out.append({
                    "run_id": run_id, "recorded_at": "2026-11-28T12:00:00+00:00", "status": "ok",
                    "machine_fingerprint": machine["fingerprint"], "machine_profile": json.dumps(machine),
                    "hostname": machine["hostname"],
                    "runtime_versions": json.dumps(runtime_versions or machine["runtimes"]["default"]),
                    "framework": framework, "device": device, "environment": "default",
                    "execution_provider": provider, "precision": precision, "threads": None,
                    "device_options": "{}", "task": "text2text", "workload_id": f"p{length}", "model_id": model,
                    "model_hash": "h1", "repetition": rep, "ttft_ms": t, "tpot_ms": p,
                    "e2e_ms": t + 63 * p, "n_input_tokens": length, "n_new_tokens": 64, "peak_rss_mb": rss,
                    "load_s": load, "native_metrics": json.dumps(SYNTHETIC)})
    return pd.DataFrame(out)
