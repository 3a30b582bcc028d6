"""What a backend is: the plugin contract every runtime module implements."""

from __future__ import annotations

import importlib
import importlib.metadata
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from genai_harness.errors import BackendUnavailableError, TaskNotSupportedError
from genai_harness.interface.devices import DEFAULT_ENVIRONMENT, Device
from genai_harness.interface.tasks import ALL_TASKS, Task

if TYPE_CHECKING:
    from types import ModuleType

    from genai_harness.backends.compile_cache import CacheIdentity
    from genai_harness.interface import classification, text2image, text2text

TASK_TEXT2TEXT, TASK_TEXT2IMAGE, TASK_CLASSIFICATION = Task.TEXT2TEXT, Task.TEXT2IMAGE, Task.CLASSIFICATION
"""The members of :class:`~genai_harness.interface.tasks.Task` under the names backends written before it import
(the same objects: one vocabulary)."""


class Backend(ABC):
    """One runtime behind the common interface.

    A subclass names its ``framework``, the ``tasks`` it does, and the ``distributions`` whose
    versions identify its runtime. It imports its runtime lazily (in :meth:`import_runtime`), so
    that a missing runtime makes the backend unavailable instead of breaking the registry.
    """

    framework: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]]
    runtime_module: ClassVar[str]
    distributions: ClassVar[tuple[str, ...]]
    model_formats: ClassVar[dict[str, str]] = {}
    """Per task, the catalog format key of the model files this backend loads."""
    registers_ep_libraries: ClassVar[bool] = False
    """Whether listing its devices registers plugin EP libraries (see :mod:`genai_harness.backends.ep_plugins`):
    such backends are listed after the others, which must load their own runtime libraries first."""

    def __init__(self, environment: str = DEFAULT_ENVIRONMENT) -> None:
        self.environment = environment

    def import_runtime(self) -> ModuleType:
        """Import the runtime's main module or raise :class:`BackendUnavailableError` with the reason."""
        try:
            return importlib.import_module(self.runtime_module)
        except Exception as exc:  # ImportError, OSError from a missing shared library ...
            raise BackendUnavailableError(
                f"{self.framework} is unavailable: importing {self.runtime_module} failed "
                f"({type(exc).__name__}: {exc}); install {self.distributions[0]}"
            ) from exc

    def versions(self) -> dict[str, str]:
        """Installed versions of this backend's distributions (only those present)."""
        found: dict[str, str] = {}
        for dist in self.distributions:
            try:
                found[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
        return found

    @abstractmethod
    def enumerate_devices(self) -> list[Device]:
        """Every device the runtime can see, usable or not, using the runtime's own discovery."""

    def compile_cache(self, device: Device) -> CacheIdentity | None:
        """How ``device`` caches the model it compiles (runtime version, device, driver: the cache folder's key),
        None for a target that does not compile (the default). Called in the worker, with the runtime imported."""
        return None

    def discovery_note(self) -> str:
        """How the device list was established (shown by ``genai-harness devices``)."""
        return ""

    def _device(self, identifier: str, **fields: object) -> Device:
        return Device(identifier=identifier, framework=self.framework, environment=self.environment,
                      **fields)  # type: ignore[arg-type]

    def _unsupported(self, task: str) -> TaskNotSupportedError:
        return TaskNotSupportedError(
            f"{self.framework} does not do {task}; it does {', '.join(self.tasks)}"
        )

    def create_pipeline(self, task: str, model_path: Path, device: Device) -> Any:
        """The pipeline of ``task`` (one of :data:`ALL_TASKS`) for ``model_path`` on ``device``."""
        factories = {Task.TEXT2TEXT: self.create_text2text, Task.TEXT2IMAGE: self.create_text2image,
                     Task.CLASSIFICATION: self.create_classifier}
        if task not in factories:
            raise TaskNotSupportedError(f"unknown task {task!r}; tasks: {', '.join(ALL_TASKS)}")
        return factories[task](model_path, device)

    def create_text2text(self, model_path: Path, device: Device) -> text2text.Pipeline:
        """A text-to-text pipeline for ``model_path`` on ``device``."""
        raise self._unsupported(Task.TEXT2TEXT)

    def create_text2image(self, model_path: Path, device: Device) -> text2image.Pipeline:
        """A text-to-image pipeline for ``model_path`` on ``device``."""
        raise self._unsupported(Task.TEXT2IMAGE)

    def create_classifier(self, model_path: Path, device: Device) -> classification.Pipeline:
        """An image classifier for the ``.onnx`` file ``model_path`` on ``device``."""
        raise self._unsupported(Task.CLASSIFICATION)


OPERATOR_REFUSALS = ("does not support the following ONNX operations", "Could not find an implementation for",
                     "is not supported by this EP", "NOT_IMPLEMENTED")
"""How runtimes word a refusal to run a model's operators at load (OpenVINO's ONNX frontend, onnxruntime's kernel
registry, EPs with CPU fallback off)."""


def refuses_operators(message: str) -> bool:
    """Whether a runtime's load error says it lacks operators the model uses (pure)."""
    return any(words in message for words in OPERATOR_REFUSALS)


def first_line(message: object, limit: int = 300) -> str:
    """The most telling line of a runtime's (often multi-line) error, in its own words."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    meaningful = [ln for ln in lines if not ln.startswith("Exception from src/")]
    text = (meaningful or lines or [""])[-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."
