"""The common interface: devices, device enumeration and the pipeline factories.

Mirrors the ONNX GenAI interface proposal (onnx/working-groups, generative-ai/genai-interfaces,
namespace ``onnx::genai``) in Python style. The task namespaces live beside this module:
:mod:`genai_harness.text2text`, :mod:`genai_harness.text2image` and, as an extension the
proposal does not have, :mod:`genai_harness.classification`.

Extensions to the proposal are marked "Extension" in their docstrings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_harness.errors import DeviceUnavailableError

if TYPE_CHECKING:
    from genai_harness import classification, text2image, text2text

FRAMEWORK_ORT_GENAI = "onnxruntime_genai"
FRAMEWORK_OV_GENAI = "openvino.genai"
FRAMEWORK_ORT = "onnxruntime"

DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True)
class Device:
    """A device a framework can run on.

    ``identifier`` is "CPU", "GPU", "NPU", "GPU.1" ... as in the proposal; ``config`` holds the
    backend's options (onnxruntime: ``execution_provider`` and ``provider_options``; OpenVINO:
    ``device`` and ``properties``; onnxruntime-genai: ``provider`` and ``provider_options``).

    Extension: the descriptive fields below, filled in by enumeration, so that a listing can say
    what the device is and, when it cannot be used, why (in the runtime's own words).
    """

    identifier: str
    config: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=True)
    framework: str = ""
    execution_provider: str = ""
    type: str = ""
    vendor: str = ""
    name: str = ""
    environment: str = DEFAULT_ENVIRONMENT
    available: bool = True
    reason: str = ""

    @property
    def label(self) -> str:
        """Extension: the selector users type, e.g. ``CPU``, ``NPU:OpenVINO`` or ``CPU:OpenVINO``.

        The bare identifier names a framework's default path to that device; a suffix names the
        execution provider or plugin when a framework reaches the same identifier several ways.
        """
        suffix = self.config.get("label_suffix", "") if self.config else ""
        return f"{self.identifier}:{suffix}" if suffix else self.identifier

    def matches(self, selector: str) -> bool:
        """Extension: whether a user's ``--device`` selector names this device.

        ``CPU`` matches every CPU path; ``CPU:OpenVINO`` one path; ``@env`` restricts to an
        environment (``CPU:OpenVINO@ort-openvino``). Matching ignores case.
        """
        want, _, env = selector.partition("@")
        if env and env.lower() != self.environment.lower():
            return False
        if not want:
            return True
        want = want.lower()
        return want in (self.label.lower(), self.identifier.lower())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (also how devices cross a subprocess boundary)."""
        data = asdict(self)
        data["config"] = dict(self.config)
        data["label"] = self.label
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Device:
        """Inverse of :meth:`to_dict`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


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
        from genai_harness.backends.registry import get_backend

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


class Text2TextPipelineFactory:
    """Creates text-to-text pipelines (``Text2TextPipelineFactory::Create``)."""

    @staticmethod
    def create(
        framework: str, models_path: str | Path, devices: Sequence[Device] | Device | str | None = None
    ) -> text2text.Pipeline:
        """A ready pipeline for the model folder on the first device given (default: CPU)."""
        from genai_harness.backends.registry import get_backend

        backend = get_backend(framework)
        return backend.create_text2text(Path(models_path), _single_device(devices, framework))


class Text2ImagePipelineFactory:
    """Creates text-to-image pipelines (``Text2ImagePipelineFactory::Create``)."""

    @staticmethod
    def create(
        framework: str, models_path: str | Path, devices: Sequence[Device] | Device | str | None = None
    ) -> text2image.Pipeline:
        """A ready pipeline for the model folder on the first device given (default: CPU)."""
        from genai_harness.backends.registry import get_backend

        backend = get_backend(framework)
        return backend.create_text2image(Path(models_path), _single_device(devices, framework))


class ClassificationPipelineFactory:
    """Extension: creates image-classification pipelines (the proposal has no such task yet)."""

    @staticmethod
    def create(
        framework: str, models_path: str | Path, devices: Sequence[Device] | Device | str | None = None
    ) -> classification.Pipeline:
        """A ready pipeline for the ``.onnx`` model file on the first device given (default: CPU)."""
        from genai_harness.backends.registry import get_backend

        backend = get_backend(framework)
        return backend.create_classifier(Path(models_path), _single_device(devices, framework))
