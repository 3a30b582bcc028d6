"""One generation through one backend, run in a worker (``generate``, ``imagine``, ``classify`` commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genai_harness.backends.numerics import check_honoured, check_precision, check_threads
from genai_harness.backends.registry import get_backend
from genai_harness.factories import DeviceFactory
from genai_harness.tasks import timing as metrics
from genai_harness.worker.cell import load_pipeline, with_numerics
from genai_harness.worker.protocol import DirectReply, DirectRequest, RequestedNumerics


def run_direct(request: DirectRequest) -> DirectReply:
    """Create the pipeline on the selected device and run the request's task once."""
    framework, task = request.framework, request.task
    backend = get_backend(framework, request.environment)
    precision, threads = check_precision(request.numerics.precision), check_threads(request.numerics.threads)
    device = with_numerics(DeviceFactory.select(framework, request.device), precision, threads)
    pipeline, load_s = load_pipeline(backend, task, Path(request.model_path), device)
    numerics = getattr(pipeline, "numerics", None)
    check_honoured(framework, device.config, numerics)
    return DirectReply(load_s=load_s, device=device, output=_run(task, pipeline, request.params, load_s),
                       actual_device=str(getattr(pipeline, "actual_device", "")),
                       numerics=numerics.to_dict() if numerics is not None else None,
                       requested=RequestedNumerics(precision, threads))


def _run(task: str, pipeline: Any, params: dict[str, Any], load_s: float) -> dict[str, Any]:
    if task == "text2text":
        from genai_harness.interface import text2text

        config = text2text.GenerationConfig.exact(params["max_new_tokens"]) if params.get("exact", True) \
            else text2text.GenerationConfig(max_new_tokens=params["max_new_tokens"])
        result = pipeline(params["prompt"], config)
        return {
            "load_s": load_s, "text": result.text, "token_ids": result.token_ids,
            "input_token_ids": result.input_token_ids,
            "token_times_ms": [(t - result.start_ns) / 1e6 for t in result.token_ns],
            "metrics": metrics.text_metrics(result.start_ns, result.token_ns, result.end_ns,
                                            len(result.input_token_ids)),
            "native_metrics": result.native_metrics,
        }
    if task == "text2image":
        import numpy as np

        from genai_harness.interface import text2image

        config = text2image.GenerationConfig(image_width=params["width"], image_height=params["height"],
                                             num_inference_steps=params["steps"], rng_seed=params["seed"],
                                             guidance_scale=params["guidance_scale"])
        result = pipeline(params["prompt"], config)
        np.save(params["out_npy"], result.tensor)
        return {"load_s": load_s, "shape": list(result.tensor.shape),
                "metrics": metrics.image_metrics(result.start_ns, result.step_ns, result.end_ns),
                "native_metrics": result.native_metrics}
    from genai_harness.interface.classification import ClassificationConfig

    batch = pipeline.make_batch(ClassificationConfig(batch_size=params["batch_size"]))
    result = pipeline(batch)
    return {"load_s": load_s, "top1": [int(i) for i in result.top1()], "logits_shape": list(result.logits.shape),
            "metrics": metrics.classification_metrics(result.start_ns, result.end_ns, params["batch_size"])}
