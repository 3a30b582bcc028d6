"""The factories of the common interface: device enumeration and pipeline creation.

``DeviceFactory::Enumerate`` and the ``*PipelineFactory::Create`` functions of the ONNX GenAI
interface proposal. They reach the runtimes through the backend registry, so they stand above the backends;
:mod:`genai_harness.interface` (the data every backend needs) stands below them. The package root exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from genai_harness.errors import DeviceUnavailableError
from genai_harness.interface import classification, text2image, text2text
from genai_harness.interface.devices import Device
from genai_harness.interface.tasks import Task

Enumerator = Callable[[], list[Device]]


class DeviceFactory:
    """Enumerates the devices a framework can use (``DeviceFactory::Enumerate`` in the proposal)."""

    _enumerators: dict[str, Enumerator] = {}  # noqa: RUF012 - a deliberate class-level registry

    @classmethod
    def register(cls, framework: str, enumerator: Enumerator) -> None:
        """Register an enumerator for a framework, overriding the backend's own."""
        cls._enumerators[framework] = enumerator

    @classmethod
    def unregister(cls, framework: str) -> None:
        """Extension: drop an enumerator registered with :meth:`register`."""
        cls._enumerators.pop(framework, None)

    @classmethod
    def describe(cls, framework: str) -> list[Device]:
        """Extension: every device the runtime can see, usable or not (with the reason)."""
        if framework in cls._enumerators:
            return list(cls._enumerators[framework]())
        from genai_harness.backends.registry import (
            get_backend,  # backends load on first use: `import genai_harness` stays light
        )

        return get_backend(framework).enumerate_devices()

    @classmethod
    def enumerate(cls, framework: str) -> list[Device]:
        """The devices of ``framework`` that can be used on this machine."""
        return [d for d in cls.describe(framework) if d.available]

    @classmethod
    def select(cls, framework: str, selector: str) -> Device:
        """Extension: the one usable device a ``--device`` selector names, or a clear error."""
        described = cls.describe(framework)
        matching = [d for d in described if d.matches(selector)]
        usable = [d for d in matching if d.available]
        if usable:
            return usable[0]
        if matching:
            why = "; ".join(f"{d.label}: {d.reason}" for d in matching)
            raise DeviceUnavailableError(f"device {selector!r} of {framework} is not usable here ({why})")
        known = ", ".join(sorted({d.label for d in described if d.available})) or "none"
        raise DeviceUnavailableError(
            f"unknown device {selector!r} for {framework}; usable devices: {known} "
            "(run `genai-harness devices` to see all)"
        )


def _single_device(devices: Sequence[Device] | Device | str | None, framework: str) -> Device:
    if devices is None or devices == []:
        return DeviceFactory.select(framework, "CPU")
    if isinstance(devices, str):
        return DeviceFactory.select(framework, devices)
    if isinstance(devices, Device):
        return devices
    if len(devices) > 1:
        raise DeviceUnavailableError(
            f"{framework} pipelines run on one device; got {len(devices)}. "
            "Use an OpenVINO HETERO/AUTO device for several."
        )
    return devices[0]


PipelineT = TypeVar("PipelineT")


class _PipelineFactory(Generic[PipelineT]):
    """A pipeline factory of the proposal: ``create`` asks ``framework``'s backend (loaded on first use) for the
    pipeline of :attr:`task` on one device."""

    task: ClassVar[Task]

    @classmethod
    def create(cls, framework: str, models_path: str | Path,
               devices: Sequence[Device] | Device | str | None = None) -> PipelineT:
        """A ready pipeline for the model folder on the first device given (default: CPU)."""
        from genai_harness.backends.registry import (
            get_backend,  # backends load on first use: `import genai_harness` stays light
        )

        return get_backend(framework).create_pipeline(cls.task, Path(models_path), _single_device(devices, framework))


class Text2TextPipelineFactory(_PipelineFactory[text2text.Pipeline]):
    """Creates text-to-text pipelines (``Text2TextPipelineFactory::Create``)."""

    task = Task.TEXT2TEXT


class Text2ImagePipelineFactory(_PipelineFactory[text2image.Pipeline]):
    """Creates text-to-image pipelines (``Text2ImagePipelineFactory::Create``)."""

    task = Task.TEXT2IMAGE


class ClassificationPipelineFactory(_PipelineFactory[classification.Pipeline]):
    """Extension: creates image classifiers (the proposal has no such task yet) for an ``.onnx`` model file."""

    task = Task.CLASSIFICATION


_FACTORIES: dict[Task, type[_PipelineFactory[Any]]] = {
    f.task: f for f in (Text2TextPipelineFactory, Text2ImagePipelineFactory, ClassificationPipelineFactory)}


def factory_for(task: str) -> Callable[..., Any]:
    """The ``create`` function of ``task``'s pipeline factory."""
    return _FACTORIES[Task(task)].create
