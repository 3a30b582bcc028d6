"""One generation through one backend, run in a worker (``generate``, ``imagine``, ``classify`` commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genai_harness.backends.numerics import check_honoured, check_precision, check_threads
from genai_harness.backends.registry import get_backend
from genai_harness.factories import DeviceFactory
from genai_harness.tasks.registry import task_kind
from genai_harness.worker.cell import load_pipeline, with_numerics


def run_direct(request: dict[str, Any]) -> dict[str, Any]:
    """Create the pipeline on the selected device and run the request's task once."""
    framework, task = request["framework"], request["task"]
    backend = get_backend(framework, request.get("environment", "default"))
    asked = request.get("numerics") or {}
    precision, threads = check_precision(asked.get("precision")), check_threads(asked.get("threads"))
    device = with_numerics(DeviceFactory.select(framework, request["device"]), precision, threads)
    pipeline, load_s = load_pipeline(backend, task, Path(request["model_path"]), device)
    numerics = getattr(pipeline, "numerics", None)
    check_honoured(framework, device.config, numerics)
    answer = _run(task, pipeline, request["params"], load_s)
    answer.update(device=device.to_dict(), actual_device=str(getattr(pipeline, "actual_device", "")),
                  numerics=numerics.to_dict() if numerics is not None else None,
                  requested={"precision": precision, "threads": threads})
    return answer


def _run(task: str, pipeline: Any, params: dict[str, Any], load_s: float) -> dict[str, Any]:
    return task_kind(task).direct_call(pipeline, params, load_s)
