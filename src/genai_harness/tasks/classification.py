"""Image classification (an extension of the proposal): a batch of images, batch latency, items/s, top-1 agreement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from genai_harness.interface.classification import ClassificationConfig
from genai_harness.interface.tasks import Task
from genai_harness.tasks import reference, timing
from genai_harness.tasks.base import REQUIRED, InputField, MeasuredCall, Objective, TaskKind
from genai_harness.tasks.instructions import instruction_metric
from genai_harness.tasks.metric import MetricInfo, metric_info

T = (Task.CLASSIFICATION,)


class ClassificationTask(TaskKind):
    """Scores for a batch of ``batch_size`` images (a model of fixed batch is fed item by item)."""

    task: ClassVar[Task] = Task.CLASSIFICATION
    inputs: ClassVar[Mapping[str, InputField]] = {"batch_size": (int, REQUIRED, 1)}
    highest: ClassVar[Mapping[str, float]] = {"batch_size": 65_536}
    metrics: ClassVar[tuple[MetricInfo, ...]] = (
        metric_info("inference_ms", "batch", "ms", T, "lower", True, "{:.2f}"),
        metric_info("items_per_s", "throughput", "items/s", T, "higher", True, "{:.1f}",
                    reciprocal_of="inference_ms"),
        instruction_metric("instructions_call", "instructions per call", T),
        metric_info("ref_top1_agreement", "top-1 agreement", "share", T, "higher", False, "{:.3f}", "accuracy"),
        metric_info("ref_max_score_diff", "max score diff", "", T, "lower", False, "{:.3g}", "accuracy"),
    )
    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("throughput", "items/s", "higher", "items_per_s"),
        Objective("batch", "ms", "lower", "inference_ms"),
    )
    call_metric: ClassVar[str] = "inference_ms"
    probe_id: ClassVar[str] = "probe-classify-b1"
    probe_inputs: ClassVar[Mapping[str, Any]] = {"batch_size": 1}

    def measured_call(self, inputs: Mapping[str, Any], pipeline: Any) -> MeasuredCall:
        batch_size = int(inputs["batch_size"])
        batch = pipeline.make_batch(ClassificationConfig(batch_size=batch_size))
        model_batch = getattr(pipeline, "model_batch", None)
        # A model with a fixed batch (the bundled classifiers take 1) is fed as it allows, item by item: the row
        # says so (batch_size = the batch that ran, batch_requested = the workload's), items/s counts every item.
        ran = model_batch if model_batch and model_batch != batch_size else batch_size
        shape = {"batch_size": ran, "batch_requested": batch_size if ran != batch_size else None}
        last: list[Any] = [None]

        def once() -> dict[str, Any]:
            result = pipeline(batch)
            last[0] = result.logits
            row = timing.classification_metrics(result.start_ns, result.end_ns, batch_size)
            return {**row, **{k: v for k, v in shape.items() if v is not None}, "native_metrics": {},
                    "stamps": {"start": result.start_ns, "end": result.end_ns}}

        return MeasuredCall(once, lambda: last[0], shape)

    def agreement(self, inputs: Mapping[str, Any], output: Any, reference_output: Any, measured: Any,
                  reference_pipeline: Any) -> dict[str, Any]:
        top1, max_diff = reference.classification_agreement(output, reference_output)
        return {"ref_top1_agreement": top1, "ref_max_score_diff": max_diff}

    def direct_call(self, pipeline: Any, params: Mapping[str, Any], load_s: float) -> dict[str, Any]:
        batch = pipeline.make_batch(ClassificationConfig(batch_size=params["batch_size"]))
        result = pipeline(batch)
        return {"load_s": load_s, "top1": [int(i) for i in result.top1()], "logits_shape": list(result.logits.shape),
                "metrics": timing.classification_metrics(result.start_ns, result.end_ns, params["batch_size"])}

    def probe_output(self, pipeline: Any) -> Any:
        return pipeline(pipeline.make_batch(ClassificationConfig(batch_size=1))).logits

    def probe_agrees(self, output: Any, reference_output: Any) -> tuple[bool, str]:
        same = bool((np.argmax(np.asarray(output), axis=-1) == np.argmax(np.asarray(reference_output), axis=-1)).all())
        return same, "top-1 equal" if same else "top-1 class differs from the CPU reference"
