"""Result rows of known values for the gate's wiring tests: what compare, the CI example and the plugin judge,
written rather than measured, so that each verdict is known in advance at any load."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genai_harness.results.schema import frame_records
from genai_harness.results.store import ResultStore

CELL = {"status": "ok", "framework": "onnxruntime_genai", "device": "CPU", "environment": "default",
        "precision": "f32", "threads": 2, "task": "text2text", "workload_id": "w", "model_id": "m",
        "run_started_at": "2026-12-06T00:00:00+00:00"}
CALM = [1.0, 1.03, 0.98, 1.01]
"""Run levels of a quiet machine: four runs within 3 %."""
WIDE = [1.0, 1.4, 0.75]
"""Run levels of a loaded machine: three runs 25-40 % apart."""
MIDDLING = [1.0, 1.08, 0.93, 1.04]
"""Run levels of a machine in between: four runs 4-8 % apart (a 12 % slowdown is neither shown nor hidden
1.5x)."""


def known_runs(prefix: str, levels: list[float], *, ttft: float = 10.0, rss: float = 86.0) -> pd.DataFrame:
    """One run per level (run id ``prefix`` + index), five repetitions each 1 % apart, TTFT ``ttft * level``."""
    return pd.DataFrame([{**CELL, "run_id": f"{prefix}{k}", "repetition": i, "ttft_ms": ttft * level * (1 + 0.01 * i),
                          "peak_rss_mb": rss} for k, level in enumerate(levels) for i in range(5)])


def write_store(path: Path, frame: pd.DataFrame) -> Path:
    """``frame``'s rows appended to the store at ``path`` (created), through the one door."""
    ResultStore(path).append(frame_records(frame))
    return path
