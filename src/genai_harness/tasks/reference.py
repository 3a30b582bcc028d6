"""Agreement with the f32 CPU reference: the accuracy cost of a cell's numerics, beside its speed.

The reference is the same model, through the same framework, on its CPU device at precision f32, fed
the same inputs (prompt ids, prompt + seed, input batch). The bundled models have random weights, so
what is measurable is agreement with the reference, not task accuracy.

Pure functions compare outputs; :func:`reference_pipeline` builds the reference pipeline in the worker.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from genai_harness.backends.numerics import PRECISION_KEY, THREADS_KEY
from genai_harness.factories import DeviceFactory


def token_agreement(ids: Sequence[int], reference: Sequence[int]) -> tuple[float, int]:
    """(share of positions whose greedy token equals the reference's, index of the first difference).

    The first divergence is ``len(reference)`` when none differs within it.
    """
    n = max(len(ids), len(reference))
    if n == 0:
        return 1.0, 0
    same = sum(1 for a, b in zip(ids, reference, strict=False) if a == b)
    first = next((i for i, (a, b) in enumerate(zip(ids, reference, strict=False)) if a != b),
                 min(len(ids), len(reference)))
    if first == min(len(ids), len(reference)) and len(ids) == len(reference):
        first = len(reference)
    return same / n, first


def psnr_db(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio of uint8 images in dB (inf when identical)."""
    if image.shape != reference.shape:
        raise ValueError(f"image {image.shape} and reference {reference.shape} differ in shape")
    mse = float(np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def classification_agreement(logits: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(share of items whose top-1 class equals the reference's, max |score - reference score|)."""
    a = np.asarray(logits, dtype=np.float64).reshape(len(logits), -1)
    b = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    if a.shape != b.shape:
        raise ValueError(f"scores {a.shape} and reference {b.shape} differ in shape")
    return float(np.mean(a.argmax(axis=1) == b.argmax(axis=1))), float(np.max(np.abs(a - b)))


def max_abs_diff(values: Any, reference: Any) -> float:
    """Largest absolute difference of two arrays of the same shape."""
    return float(np.max(np.abs(np.asarray(values, dtype=np.float64) - np.asarray(reference, dtype=np.float64))))


def reference_device(framework: str) -> Any:
    """The framework's CPU device asked for precision f32 and the runtime's default threads."""
    device = DeviceFactory.select(framework, "CPU")
    config = {k: v for k, v in device.config.items() if k not in (PRECISION_KEY, THREADS_KEY)}
    return dataclasses.replace(device, config={**config, PRECISION_KEY: "f32"})
