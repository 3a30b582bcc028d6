"""Other names users give frameworks: the model format or runtime name for the framework that serves it."""

from __future__ import annotations

FRAMEWORK_ALIASES = {
    "openvino": "openvino.genai",
    "openvino-genai": "openvino.genai",
    "openvino_genai": "openvino.genai",
    "onnxruntime-genai": "onnxruntime_genai",
    "ort-genai": "onnxruntime_genai",
    "ort": "onnxruntime",
}
"""``models`` lists formats (``openvino`` ...) and pip lists packages (``openvino-genai`` ...); each of
these names means the framework that loads it."""


def canonical_framework(name: str) -> str:
    """The framework a name or alias means (``openvino`` -> ``openvino.genai``); unknown names unchanged."""
    return FRAMEWORK_ALIASES.get(name, name)
