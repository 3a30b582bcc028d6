"""Text to image: one image end to end and per denoising step, energy per image, PSNR against the reference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from genai_harness.errors import WorkloadError
from genai_harness.interface import text2image
from genai_harness.interface.tasks import Task
from genai_harness.tasks import reference, timing
from genai_harness.tasks.base import InputField, MeasuredCall, Objective, TaskKind
from genai_harness.tasks.instructions import Count, image_counts, instruction_metric
from genai_harness.tasks.metric import MetricInfo, metric_info

T = (Task.TEXT2IMAGE,)
MIN_PSNR_DB = 30.0
"""A probe image within this PSNR of the CPU reference agrees (bf16 against f32 gives about 46 dB here)."""


def _config(inputs: Mapping[str, Any]) -> text2image.GenerationConfig:
    return text2image.GenerationConfig(
        image_width=inputs["width"], image_height=inputs["height"], num_inference_steps=inputs["steps"],
        guidance_scale=inputs["guidance_scale"], rng_seed=inputs["seed"])


class Text2ImageTask(TaskKind):
    """One image of ``width`` x ``height`` in ``steps`` denoising steps for a prompt and seed."""

    task: ClassVar[Task] = Task.TEXT2IMAGE
    inputs: ClassVar[Mapping[str, InputField]] = {
        "prompt": (str, "a lighthouse on a rocky coast at dawn, oil painting", None),
        "width": (int, 512, 8), "height": (int, 512, 8), "steps": (int, 20, 1),
        "guidance_scale": (float, 7.5, 0), "seed": (int, 0, 0),
    }
    highest: ClassVar[Mapping[str, float]] = {"width": 16_384, "height": 16_384, "steps": 10_000,
                                              "seed": 2**63 - 1, "guidance_scale": 1_000.0}
    metrics: ClassVar[tuple[MetricInfo, ...]] = (
        metric_info("image_ms", "image", "ms", T, "lower", True, "{:.0f}"),
        metric_info("step_ms", "step", "ms", T, "lower", True, "{:.1f}"),
        instruction_metric("instructions_per_step", "instructions per step", T),
        instruction_metric("instructions_call", "instructions per call", T),
        metric_info("energy_per_image_j", "energy per image", "J/image", T, "lower", False, "{:.3g}", "energy"),
        metric_info("ref_psnr_db", "PSNR vs reference", "dB", T, "higher", False, "{:.1f}", "accuracy"),
    )
    objectives: ClassVar[tuple[Objective, ...]] = (Objective("image", "ms", "lower", "image_ms"),)
    call_metric: ClassVar[str] = "image_ms"
    probe_id: ClassVar[str] = "probe-image-64-s2"
    probe_inputs: ClassVar[Mapping[str, Any]] = {"width": 64, "height": 64, "steps": 2}
    probe_repetitions: ClassVar[int] = 3

    def check_inputs(self, inputs: Mapping[str, Any], where: str) -> None:
        for dim in ("width", "height"):
            if inputs[dim] % 8:
                raise WorkloadError(f"{where}: field {dim!r} must be a multiple of 8, got {inputs[dim]}")

    def measured_call(self, inputs: Mapping[str, Any], pipeline: Any) -> MeasuredCall:
        config = _config(inputs)
        last: list[Any] = [None]

        def once() -> dict[str, Any]:
            result = pipeline(inputs["prompt"], config)
            last[0] = result.tensor
            return {**timing.image_metrics(result.start_ns, result.step_ns, result.end_ns),
                    "n_images": int(result.tensor.shape[0]), "native_metrics": result.native_metrics,
                    "stamps": {"start": result.start_ns, "steps": list(result.step_ns), "end": result.end_ns}}

        return MeasuredCall(once, lambda: last[0])

    def instruction_counts(self, stamps: Mapping[str, Any], count: Count) -> dict[str, float | None]:
        return image_counts(stamps, count)

    def energy_per_unit(self, record: Mapping[str, Any], joules: float) -> dict[str, float]:
        return {"energy_per_image_j": joules / record["n_images"]} if record.get("n_images") else {}

    def agreement(self, inputs: Mapping[str, Any], output: Any, reference_output: Any, measured: Any,
                  reference_pipeline: Any) -> dict[str, Any]:
        return {"ref_psnr_db": reference.psnr_db(output, reference_output)}

    def direct_call(self, pipeline: Any, params: Mapping[str, Any], load_s: float) -> dict[str, Any]:
        result = pipeline(params["prompt"], _config(params))
        np.save(params["out_npy"], result.tensor)
        return {"load_s": load_s, "shape": list(result.tensor.shape),
                "metrics": timing.image_metrics(result.start_ns, result.step_ns, result.end_ns),
                "native_metrics": result.native_metrics}

    def probe_output(self, pipeline: Any) -> Any:
        size = self.probe_inputs
        config = text2image.GenerationConfig(image_width=size["width"], image_height=size["height"],
                                             num_inference_steps=size["steps"], rng_seed=1)
        return pipeline("a lighthouse on a rocky coast", config).tensor

    def probe_agrees(self, output: Any, reference_output: Any) -> tuple[bool, str]:
        psnr = reference.psnr_db(output, reference_output)
        return psnr >= MIN_PSNR_DB, f"PSNR {psnr:.1f} dB against the CPU reference (need {MIN_PSNR_DB:.0f})"
