"""Shared bits of the benchmark scripts (bare runtime loops that time tokens like the harness does)."""

from __future__ import annotations

import itertools
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from genai_harness.workloads.catalog import MODELS_DIR

TINY_LLM = MODELS_DIR / "tiny-llm"


def decode_tps(token_ns: list[int]) -> float:
    """Tokens per second between the first and the last new token (the harness's decode_tps)."""
    return (len(token_ns) - 1) / ((token_ns[-1] - token_ns[0]) / 1e9)


def bare_ort_genai(model: Any, input_ids: list[int], n_new: int) -> list[int]:
    """A bare onnxruntime-genai loop, timing each token with perf_counter_ns."""
    import onnxruntime_genai as og

    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(input_ids) + n_new, min_length=len(input_ids) + n_new,
                              do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(input_ids)
    stamps = []
    while not generator.is_done():
        generator.generate_next_token()
        generator.get_next_tokens()
        stamps.append(time.perf_counter_ns())
    return stamps


def bare_ov_genai(pipe: Any, input_ids: list[int], n_new: int) -> tuple[list[int], Any]:
    """A bare openvino-genai generate with a minimal id streamer, timing each token."""
    import openvino
    import openvino_genai as ovg

    stamps: list[int] = []

    class Streamer(ovg.StreamerBase):
        def write(self, token: Any) -> Any:
            stamps.append(time.perf_counter_ns())
            return ovg.StreamingStatus.RUNNING

        def end(self) -> None:
            return None

    config = pipe.get_generation_config()
    config.max_new_tokens = config.min_new_tokens = n_new
    config.ignore_eos = True
    config.do_sample = False
    config.apply_chat_template = False
    result = pipe.generate(openvino.Tensor(np.asarray([input_ids], dtype=np.int64)), config, Streamer())
    return stamps, result


def median(values: list[float]) -> float:
    """Median."""
    return statistics.median(values)


def model_dir(fmt: str) -> Path:
    """A bundled tiny-llm format folder."""
    return TINY_LLM / fmt


def tiny_llm_on_cpu(framework: str) -> tuple[Any, Any, Path]:
    """``framework``'s backend (runtime imported), its CPU device and tiny-llm's folder in that runtime's format."""
    from genai_harness.backends.registry import get_backend

    backend = get_backend(framework, "default")
    backend.import_runtime()
    device = next(d for d in backend.enumerate_devices() if "CPU" in d.identifier.upper())
    return backend, device, model_dir("openvino" if framework.startswith("openvino") else framework)


def successive_spread(values: list[float]) -> tuple[float, float]:
    """(SD, robust SD) of one unit's log value from the differences of consecutive units, in time order (pure): drift
    slower than a unit cancels in each difference, so this is the spread between neighbours, not over the minutes."""
    logs = [math.log(v) for v in values]
    diffs = [b - a for a, b in itertools.pairwise(logs)]
    centre = statistics.median(diffs)
    mad = statistics.median(abs(d - centre) for d in diffs)
    return statistics.stdev(diffs) / math.sqrt(2), 1.4826 * mad / math.sqrt(2)
