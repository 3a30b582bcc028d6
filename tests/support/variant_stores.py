"""SYNTHETIC fixture stores of a model family (one checkpoint built float32, float16, int4) on machines this project
lacks (an NPU, a GPU), for the variant ranking's logic.

Every number here is made up; none was measured. Rows reuse :mod:`support.dispatch_stores` (hostname
``synthetic-laptop``, a note in ``native_metrics``) and add the columns a family's rows carry: ``family``,
``weight_precision`` and the quality ``run --reference`` records (``ref_answer_share``, ``ref_token_agreement``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from support.dispatch_stores import rows

FAMILY = "phi-mini"
# variant -> (weight precision, {target: (framework, device, provider, precision, ttft ms, tpot ms, peak MiB, load s)},
#             answer share, token agreement); None quality = never measured against the checkpoint
VARIANTS: dict[str, tuple[str, dict[str, tuple[Any, ...]], float | None, float | None]] = {
    "phi-mini": ("float32", {
        "cpu": ("onnxruntime_genai", "CPU", "CPUExecutionProvider", "f32", 120.0, 30.0, 1500.0, 1.0),
    }, 1.0, 1.0),
    "phi-mini-fp16": ("float16", {
        "gpu": ("onnxruntime_genai", "GPU:DML", "DmlExecutionProvider", "f16", 25.0, 14.0, 2400.0, 2.0),
        "npu": ("openvino.genai", "NPU", None, "f16", 38.0, 12.0, 1300.0, 6.0),
    }, 0.98, 0.95),
    "phi-mini-int4": ("int4 sym, group 128 (i4)", {
        "npu": ("openvino.genai", "NPU", None, "f16", 30.0, 5.0, 450.0, 4.0),
        "cpu": ("onnxruntime_genai", "CPU", "CPUExecutionProvider", "f32", 90.0, 11.0, 520.0, 1.0),
    }, 0.82, 0.61),
}


def family_rows(machine: dict[str, Any], variants: dict[str, tuple[Any, ...]] = VARIANTS, **options: Any
                ) -> pd.DataFrame:
    """The family's rows: every variant on each of its targets, with its weight precision and quality."""
    frames = []
    for seed, (model, (weights, targets, share, agreement)) in enumerate(variants.items()):
        frame = rows(machine, targets, model=model, seed=seed, **options)
        frames.append(frame.assign(family=FAMILY, weight_precision=weights, ref_answer_share=share,
                                   ref_token_agreement=agreement))
    return pd.concat(frames, ignore_index=True)
