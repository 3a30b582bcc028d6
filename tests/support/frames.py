"""Results DataFrames built to the schema for the dashboard tests and the report benchmark (seeded)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

PROFILE = json.dumps({"hostname": "bench-host", "cpu": {"brand": "Test CPU 9000", "logical_cores": 2},
                      "memory": {"total_mib": 8192}, "os": {"system": "Linux"}})
VERSIONS = json.dumps({"onnxruntime": "1.31.0", "onnxruntime_genai": "0.18.0", "openvino_genai": "2025.3"})
FRAMEWORKS = ("onnxruntime", "onnxruntime_genai", "openvino_genai")


def device_names(n: int) -> list[tuple[str, str]]:
    """``n`` (framework, device) targets: CPU, GPU, NPU and numbered vendor devices."""
    base = ["CPU", "GPU", "NPU"] + [f"NPU.{i}" for i in range(1, n)]
    return [(FRAMEWORKS[i % len(FRAMEWORKS)], base[i]) for i in range(n)]


def results_frame(*, devices: int = 3, runs: int = 2, repetitions: int = 5, prompts: tuple[int, ...] = (16, 64),
                  tasks: tuple[str, ...] = ("text2text", "text2image", "classification"), failed: int = 1,
                  seed: int = 0, slowdown_last_run: float = 1.0, positions: int = 15) -> pd.DataFrame:
    """Rows shaped like a store read: every target x task x prompt length x repetition per run, ``failed``
    failed cells per run (with an error), the last run's times stretched by ``slowdown_last_run``.

    A text cell's ``itl_by_position_ms`` is JSON text (as a store read gives it) of ``positions`` gaps that
    grow by 2 % a position from 0.9 x the cell's TPOT (0 positions: null, as stores before schema 4)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    targets = device_names(devices)
    for r in range(runs):
        run_id = f"run-{r:03d}"
        started = f"2026-11-{1 + r % 28:02d}T{r // 28 % 24:02d}:00:00+00:00"
        stretch = slowdown_last_run if r == runs - 1 else 1.0
        for t, (framework, device) in enumerate(targets):
            speed = 1.0 + 0.35 * t
            common = {"run_id": run_id, "run_started_at": started, "recorded_at": started,
                      "machine_fingerprint": "fp1", "hostname": "bench-host", "machine_profile": PROFILE,
                      "runtime_versions": VERSIONS, "framework": framework, "device": device,
                      "environment": "default", "execution_provider": None, "precision": "f32", "threads": 2,
                      "model_hash": "h", "status": "ok"}
            for task in tasks:
                model = {"text2text": "tiny-llama", "text2image": "tiny-sd", "classification": "tiny-vit"}[task]
                lengths = prompts if task == "text2text" else (0,)
                for p in lengths:
                    workload = f"{task}-p{p}" if task == "text2text" else f"{task}-default"
                    is_failed = t < failed and p == lengths[-1]
                    cell_tpot = 4.0 * speed * stretch * (1 + p / 512)
                    by_position = (json.dumps([round(cell_tpot * (0.9 + 0.02 * i), 4) for i in range(positions)])
                                   if task == "text2text" and positions and not is_failed else None)
                    for rep in range(repetitions):
                        noise = float(rng.normal(1.0, 0.03)) * stretch
                        row = {**common, "task": task, "workload_id": workload, "model_id": model,
                               "repetition": rep, "load_s": 0.4 * speed, "peak_rss_mb": 300.0 + 20 * t,
                               "itl_by_position_ms": by_position}
                        if is_failed:
                            row.update(status="failed", error="device lost during generation",
                                       error_type="GenerationError")
                        elif task == "text2text":
                            tpot = 4.0 * speed * noise * (1 + p / 512)
                            row.update(ttft_ms=(5 + 0.2 * p) * speed * noise, tpot_ms=tpot, decode_tps=1000 / tpot,
                                       itl_p50_ms=tpot * 0.98, itl_p90_ms=tpot * 1.2, e2e_ms=20 * tpot,
                                       n_input_tokens=p, n_new_tokens=16, ref_token_agreement=1.0 - 0.01 * t)
                        elif task == "text2image":
                            row.update(image_ms=800 * speed * noise, step_ms=200 * speed * noise)
                        else:
                            inference = 3.0 * speed * noise
                            row.update(inference_ms=inference, items_per_s=8000 / inference, batch_size=8,
                                       ref_top1_agreement=1.0)
                        rows.append(row)
    return pd.DataFrame(rows)
