"""The common interface: devices (the data) and, re-exported from :mod:`genai_harness.factories`,
device enumeration and the pipeline factories.

Mirrors the ONNX GenAI interface proposal (onnx/working-groups, generative-ai/genai-interfaces,
namespace ``onnx::genai``) in Python style. The task namespaces live beside this module:
:mod:`genai_harness.text2text`, :mod:`genai_harness.text2image` and, as an extension the
proposal does not have, :mod:`genai_harness.classification`.

Extensions to the proposal are marked "Extension" in their docstrings.

The factories need the backend registry, and the backends need :class:`Device` from here; so the
factories live in :mod:`genai_harness.factories` and are re-exported under their old names lazily
(module ``__getattr__``), which keeps ``from genai_harness.interface import DeviceFactory`` working
without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

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


_FACTORY_NAMES = frozenset({
    "DeviceFactory", "Enumerator", "Text2TextPipelineFactory", "Text2ImagePipelineFactory",
    "ClassificationPipelineFactory",
})


def __getattr__(name: str) -> Any:
    """Re-export the factories from :mod:`genai_harness.factories` under their public names."""
    if name in _FACTORY_NAMES:
        from genai_harness import factories

        return getattr(factories, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
