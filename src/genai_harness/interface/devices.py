"""Devices of the common interface (``Device``), the framework names and the default environment.

Enumeration and the pipeline factories live in :mod:`genai_harness.factories`, above the backends.
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
