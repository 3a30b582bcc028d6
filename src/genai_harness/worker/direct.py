"""One generation through one backend, run in a worker (``generate``, ``imagine``, ``classify`` commands)."""

from __future__ import annotations

from pathlib import Path

from genai_harness.backends.numerics import check_honoured, check_precision, check_threads
from genai_harness.backends.registry import get_backend
from genai_harness.factories import DeviceFactory
from genai_harness.tasks.registry import task_kind
from genai_harness.worker.cell import with_numerics
from genai_harness.worker.load import load_pipeline
from genai_harness.worker.protocol import DirectReply, DirectRequest, RequestedNumerics


def run_direct(request: DirectRequest) -> DirectReply:
    """Create the pipeline on the selected device and run the request's task once."""
    framework, task = request.framework, request.task
    backend = get_backend(framework, request.environment)
    precision, threads = check_precision(request.numerics.precision), check_threads(request.numerics.threads)
    device = with_numerics(DeviceFactory.select(framework, request.device), precision, threads)
    pipeline, took = load_pipeline(backend, task, Path(request.model_path), device)
    load_s = took.wall_s
    numerics = getattr(pipeline, "numerics", None)
    check_honoured(framework, device.config, numerics)
    output = task_kind(task).direct_call(pipeline, request.params, load_s)
    return DirectReply(load_s=load_s, device=device, output=output,
                       actual_device=str(getattr(pipeline, "actual_device", "")),
                       numerics=numerics.to_dict() if numerics is not None else None,
                       requested=RequestedNumerics(precision, threads))
