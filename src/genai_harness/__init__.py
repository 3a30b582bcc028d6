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
    "run",
    "text2image",
    "text2text",
]
