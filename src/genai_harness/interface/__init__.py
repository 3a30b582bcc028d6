"""The common API of the ONNX GenAI interface proposal: devices, the task vocabulary and one module per task.

Mirrors onnx/working-groups, generative-ai/genai-interfaces (namespace ``onnx::genai``) in Python style:
:mod:`~genai_harness.interface.devices` (``Device``), :mod:`~genai_harness.interface.text2text`,
:mod:`~genai_harness.interface.text2image` and, as an extension the proposal does not have,
:mod:`~genai_harness.interface.classification`. Data and abstract pipelines only: the factories that reach
the runtimes live in :mod:`genai_harness.factories`, above the backends. Extensions to the proposal are
marked "Extension" in their docstrings.
"""

from genai_harness.interface import classification, text2image, text2text
from genai_harness.interface.devices import (
    DEFAULT_ENVIRONMENT,
    FRAMEWORK_ORT,
    FRAMEWORK_ORT_GENAI,
    FRAMEWORK_OV_GENAI,
    Device,
)
from genai_harness.interface.tasks import ALL_TASKS, Task

__all__ = ["ALL_TASKS", "DEFAULT_ENVIRONMENT", "FRAMEWORK_ORT", "FRAMEWORK_ORT_GENAI", "FRAMEWORK_OV_GENAI",
           "Device", "Task", "classification", "text2image", "text2text"]
