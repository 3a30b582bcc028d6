"""One benchmark cell, run inside a worker subprocess: load, warm up, measure.

A cell is (environment, framework, device, workload, model). It loads the pipeline once
(``load_s``: construction to ready, runtime import excluded), runs the workload's warm-up
iterations unrecorded, then its repetitions (or until ``min_time_s`` of measuring), and returns
one metrics record per repetition. Every timing comes from the one injected clock.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from genai_harness.backends.base import TASK_TEXT2IMAGE, TASK_TEXT2TEXT, Backend
from genai_harness.backends.registry import get_backend
from genai_harness.clock import Clock, default_clock
from genai_harness.errors import GenerationError
from genai_harness.harness import metrics
from genai_harness.interface import Device
from genai_harness.workloads.spec import Workload

MAX_REPETITIONS = 10_000


def load_pipeline(backend: Backend, task: str, model_path: Path, device: Device,
                  clock: Clock = default_clock) -> tuple[Any, float]:
    """The ready pipeline and its load time in seconds (construction to ready; runtime import excluded)."""
    backend.import_runtime()
    start = clock()
    pipeline = backend.create_pipeline(task, model_path, device)
    load_s = (clock() - start) / 1e9
    pipeline.clock = clock
    return pipeline, load_s


def run_cell(request: dict[str, Any], clock: Clock = default_clock) -> dict[str, Any]:
    """Execute the cell a worker request describes and return its measurements."""
    workload = Workload.from_dict(request["workload"])
    device = Device.from_dict(request["device"])
    backend = get_backend(request["framework"], request.get("environment", "default"))
    pipeline, load_s = load_pipeline(backend, workload.task, Path(request["model"]["path"]), device, clock)

    once = _runner_for(workload, pipeline)
    for _ in range(workload.warmup):
        once()
    records = []
    measuring_start = time.monotonic()
    while len(records) < MAX_REPETITIONS:
        records.append(once())
        enough_reps = len(records) >= workload.repetitions
        if enough_reps and time.monotonic() - measuring_start >= workload.min_time_s:
            break
    return {
        "load_s": load_s,
        "actual_device": str(getattr(pipeline, "actual_device", device.label)),
        "versions": backend.versions(),
        "repetitions": records,
    }


def _runner_for(workload: Workload, pipeline: Any) -> Any:
    inputs = workload.inputs
    if workload.task == TASK_TEXT2TEXT:
        from genai_harness import text2text
        from genai_harness.workloads.prompts import prompt_with_tokens

        n_prompt, n_new = int(inputs["prompt_tokens"]), int(inputs["new_tokens"])
        prompt = prompt_with_tokens(pipeline.encode, n_prompt)
        config = text2text.GenerationConfig.exact(n_new)

        def run_text() -> dict[str, Any]:
            result = pipeline(prompt, config)
            if len(result.token_ids) != n_new:
                raise GenerationError(f"{pipeline.framework} produced {len(result.token_ids)} tokens, "
                                      f"the workload forces {n_new}")
            row = metrics.text_metrics(result.start_ns, result.token_ns, result.end_ns, len(result.input_token_ids))
            return {**row, "native_metrics": result.native_metrics}

        return run_text
    if workload.task == TASK_TEXT2IMAGE:
        from genai_harness import text2image

        image_config = text2image.GenerationConfig(
            image_width=inputs["width"], image_height=inputs["height"], num_inference_steps=inputs["steps"],
            guidance_scale=inputs["guidance_scale"], rng_seed=inputs["seed"],
        )

        def run_image() -> dict[str, Any]:
            result = pipeline(inputs["prompt"], image_config)
            return {**metrics.image_metrics(result.start_ns, result.step_ns, result.end_ns),
                    "native_metrics": result.native_metrics}

        return run_image
    from genai_harness.classification import ClassificationConfig

    batch_size = int(inputs["batch_size"])
    batch = pipeline.make_batch(ClassificationConfig(batch_size=batch_size))

    def run_classification() -> dict[str, Any]:
        result = pipeline(batch)
        return {**metrics.classification_metrics(result.start_ns, result.end_ns, batch_size), "native_metrics": {}}

    return run_classification
