"""genai-harness: benchmark ONNX GenAI runtimes on every device, and pick the best one.

The public API mirrors the ONNX GenAI interface proposal (see :mod:`genai_harness.interface`).
Importing this package imports no runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_harness import classification, text2image, text2text
from genai_harness.errors import HarnessError
from genai_harness.interface import (
    ClassificationPipelineFactory,
    Device,
    DeviceFactory,
    Text2ImagePipelineFactory,
    Text2TextPipelineFactory,
)

__version__ = "0.1.0"


def run(suite: str = "smoke", **options: Any) -> pd.DataFrame:
    """Run a benchmark suite on every usable device; see :func:`genai_harness.harness.api.run`."""
    from genai_harness.harness.api import run as _run

    return _run(suite, **options)


def load_results(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Read one or several result stores into one DataFrame (which machine each row came from is kept)."""
    from genai_harness.results.store import load_results as _load

    return _load(paths)

def open_text2text(model: str, objective: str = "ttft", **options: Any) -> Any:
    """A ready text2text pipeline on the best measured device; see :func:`genai_harness.harness.auto.open_best`."""
    from genai_harness.harness.auto import open_text2text as _open

    return _open(model, objective, **options)


def open_text2image(model: str, objective: str = "image", **options: Any) -> Any:
    """A ready text2image pipeline on the best measured device; see :func:`genai_harness.harness.auto.open_best`."""
    from genai_harness.harness.auto import open_text2image as _open

    return _open(model, objective, **options)


def open_classifier(model: str, objective: str = "throughput", **options: Any) -> Any:
    """A ready classifier on the best measured device; see :func:`genai_harness.harness.auto.open_best`."""
    from genai_harness.harness.auto import open_classifier as _open

    return _open(model, objective, **options)


def ort_policy_delegate(objective: str = "batch", store: str | Path | None = None, **options: Any) -> Any:
    """An onnxruntime EP selection delegate ordered by measurements; see :mod:`genai_harness.harness.auto`."""
    from genai_harness.harness.auto import ort_policy_delegate as _delegate

    return _delegate(objective, store, **options)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ClassificationPipelineFactory",
    "Device",
    "DeviceFactory",
    "HarnessError",
    "Text2ImagePipelineFactory",
    "Text2TextPipelineFactory",
    "__version__",
    "classification",
    "load_results",
    "open_classifier",
    "open_text2image",
    "open_text2text",
    "ort_policy_delegate",
    "run",
    "text2image",
    "text2text",
]
