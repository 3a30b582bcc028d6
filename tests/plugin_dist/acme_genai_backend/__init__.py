"""A third-party genai-harness backend (test fixture): one fake NPU from a fake vendor.

It uses only the public plugin contract (:class:`genai_harness.backends.base.Backend`); nothing in
genai-harness names it. ``runtime_module`` is a standard-library module standing in for a vendor
runtime, so the backend is available wherever it is installed.
"""

from __future__ import annotations

from typing import ClassVar

from genai_harness.backends.base import TASK_CLASSIFICATION, Backend
from genai_harness.interface import Device

ACME_DEVICE_NAME = "Acme Fake NPU 1000"


class AcmeFakeBackend(Backend):
    """Enumerates one fake NPU."""

    framework: ClassVar[str] = "acme.fake"
    tasks: ClassVar[tuple[str, ...]] = (TASK_CLASSIFICATION,)
    runtime_module: ClassVar[str] = "json"
    distributions: ClassVar[tuple[str, ...]] = ("acme-genai-backend",)

    def discovery_note(self) -> str:
        return "acme fixture: one fake NPU, always present"

    def enumerate_devices(self) -> list[Device]:
        return [
            self._device(
                "NPU",
                config={"label_suffix": "Acme", "acme_options": {"cores": 4}},
                execution_provider="AcmeNPUExecutionProvider",
                type="NPU",
                vendor="Acme",
                name=ACME_DEVICE_NAME,
            )
        ]


class AcmeNoRuntimeBackend(AcmeFakeBackend):
    """A backend whose runtime module is not installed anywhere."""

    framework: ClassVar[str] = "acme.noruntime"
    runtime_module: ClassVar[str] = "no_such_runtime_xyz"
    distributions: ClassVar[tuple[str, ...]] = ("acme-npu-runtime",)
