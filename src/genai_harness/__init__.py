"""genai-harness: benchmark ONNX GenAI runtimes on every device, and pick the best one.

The public API mirrors the ONNX GenAI interface proposal (see :mod:`genai_harness.interface`).
Importing this package imports no runtime.
"""

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

__all__ = [
    "ClassificationPipelineFactory",
    "Device",
    "DeviceFactory",
    "HarnessError",
    "Text2ImagePipelineFactory",
    "Text2TextPipelineFactory",
    "__version__",
    "classification",
    "text2image",
    "text2text",
]
