"""genai-harness: benchmark ONNX GenAI runtimes on every device, and pick the best one.

The public API mirrors the ONNX GenAI interface proposal (see :mod:`genai_harness.interface`).
Importing this package imports no runtime. The public surface is exactly ``__all__`` (``dir()`` says
the same); everything else lives in the subpackages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genai_harness.errors import HarnessError
from genai_harness.factories import (
    ClassificationPipelineFactory,
    DeviceFactory,
    Text2ImagePipelineFactory,
    Text2TextPipelineFactory,
)
from genai_harness.interface import Device, classification, text2image, text2text
from genai_harness.version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import pandas as pd

    from genai_harness.results.query import ResultFilter



def load_results(paths: str | Path | Sequence[str | Path], filter: ResultFilter | None = None, *,
                 columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read one or several result stores into one DataFrame (which machine each row came from is kept).

    ``filter`` (a :class:`genai_harness.results.query.ResultFilter`) selects rows inside each store's
    query; ``columns`` limits the columns read.
    """
    # The store and pandas load on first use, so that `import genai_harness` stays light.
    from genai_harness.results.query import ALL_ROWS
    from genai_harness.results.store import load_results as _load

    return _load(paths, filter if filter is not None else ALL_ROWS, columns=columns)


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


_LAZY = {
    "run": "genai_harness.runner.benchmark",
    "open_text2text": "genai_harness.dispatch.auto",
    "open_text2image": "genai_harness.dispatch.auto",
    "open_classifier": "genai_harness.dispatch.auto",
    "ort_policy_delegate": "genai_harness.dispatch.policy",
}
"""Public functions imported on first use (so importing the package stays light), each from its one source:
``run`` (the benchmark), ``open_*`` (a ready pipeline on the best measured device, with fallback) and
``ort_policy_delegate`` (an onnxruntime EP selection delegate ordered by measurements)."""


def __getattr__(name: str) -> object:
    """The functions of :data:`_LAZY`, themselves (typed signatures, one source), imported on first use."""
    if name in _LAZY:
        import importlib  # only here: `import genai_harness` stays light

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genai_harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public surface: what ``__all__`` says (submodules imported later are reached by name)."""
    return sorted(__all__)
