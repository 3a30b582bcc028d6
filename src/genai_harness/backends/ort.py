"""The ``onnxruntime`` backend: plain ONNX Runtime sessions on any execution provider.

Tasks: text generation (an exported ONNX decoder with a KV cache, any exporter's naming convention: see
``decoder_conventions``), text-to-image (component sessions driven by a numpy scheduler) and image classification.
Devices come from ``onnxruntime.get_ep_devices()`` and ``get_available_providers()``; the OpenVINO
EP's own device list comes from ``get_available_openvino_device_ids()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from genai_harness.backends.base import Backend, first_line
from genai_harness.backends.ort_providers import EP_KINDS, OPENVINO_EP, OPENVINO_EP_DEVICE_TYPES, ep_device_key
from genai_harness.host.hostinfo import cpu_identity
from genai_harness.interface.devices import FRAMEWORK_ORT, Device
from genai_harness.interface.tasks import Task

if TYPE_CHECKING:
    from genai_harness.interface import classification, text2image, text2text

class OnnxRuntimeBackend(Backend):
    """ONNX Runtime sessions with any execution provider."""

    framework: ClassVar[str] = FRAMEWORK_ORT
    tasks: ClassVar[tuple[str, ...]] = (Task.TEXT2TEXT, Task.TEXT2IMAGE, Task.CLASSIFICATION)
    runtime_module: ClassVar[str] = "onnxruntime"
    model_formats: ClassVar[dict[str, str]] = {Task.TEXT2TEXT: "onnx_decoder", Task.TEXT2IMAGE: "onnxruntime",
                                               Task.CLASSIFICATION: "onnx"}
    distributions: ClassVar[tuple[str, ...]] = (
        "onnxruntime",
        "onnxruntime-gpu",
        "onnxruntime-openvino",
        "onnxruntime-qnn",
        "onnxruntime-directml",
    )

    def discovery_note(self) -> str:
        return (
            "onnxruntime.get_ep_devices() and get_available_providers(); OpenVINO EP device types "
            "from get_available_openvino_device_ids()"
        )

    def enumerate_devices(self) -> list[Device]:
        ort = self.import_runtime()
        available = list(ort.get_available_providers())
        devices: list[Device] = []
        covered: set[str] = set()
        for ep_device in ort.get_ep_devices():
            ep_name = ep_device.ep_name
            if ep_name == OPENVINO_EP:
                continue  # listed per OpenVINO device type below
            hw = ep_device.device
            kind, suffix = EP_KINDS.get(ep_name, (str(hw.type).rsplit(".", 1)[-1], ep_name))
            kind = str(hw.type).rsplit(".", 1)[-1] or kind
            # A plugin EP (registered from a library) is reachable only through its OrtEpDevice, not by name.
            selection = {"ep_device": ep_device_key(ep_device), "use_ep_devices": ep_name not in available}
            devices.append(self._ep_device(kind, ep_name, suffix, vendor=hw.vendor,
                                           name=self._hw_name(kind, hw.metadata), extra=selection))
            covered.add(ep_name)
        for ep_name in available:
            if ep_name in covered:
                continue
            if ep_name == OPENVINO_EP:
                devices += self._openvino_ep_devices(ort)
            elif ep_name in EP_KINDS:
                kind, suffix = EP_KINDS[ep_name]
                devices.append(self._ep_device(kind, ep_name, suffix))
            else:
                devices.append(self._ep_device(
                    "CLOUD", ep_name, ep_name.removesuffix("ExecutionProvider"), available=False,
                    reason=f"{ep_name} is offered by this onnxruntime build but is not a local "
                    "device (it runs remote or is unknown to the harness)",
                ))
        version = getattr(ort, "__version__", "?")
        for ep_name, (kind, suffix) in EP_KINDS.items():
            if ep_name not in available and ep_name != "CPUExecutionProvider":
                devices.append(self._ep_device(
                    kind, ep_name, suffix, available=False,
                    reason=f"not in this onnxruntime {version} build "
                    f"(get_available_providers() = {available})",
                ))
        return devices

    def create_text2text(self, model_path: Path, device: Device) -> text2text.Pipeline:
        self.import_runtime()
        # lazy: ort_llm_pipeline loads onnxruntime, so a missing runtime leaves the backend "unavailable"
        from genai_harness.backends.ort_llm_pipeline import OrtText2TextPipeline

        return OrtText2TextPipeline(model_path, device)

    def create_text2image(self, model_path: Path, device: Device) -> text2image.Pipeline:
        self.import_runtime()
        # lazy: ort_pipeline loads onnxruntime, so a missing runtime leaves the backend "unavailable"
        from genai_harness.backends.ort_pipeline import OrtText2ImagePipeline

        return OrtText2ImagePipeline(model_path, device)

    def create_classifier(self, model_path: Path, device: Device) -> classification.Pipeline:
        self.import_runtime()
        # lazy: ort_pipeline loads onnxruntime, so a missing runtime leaves the backend "unavailable"
        from genai_harness.backends.ort_pipeline import OrtClassificationPipeline

        return OrtClassificationPipeline(model_path, device)

    def _ep_device(self, kind: str, ep_name: str, suffix: str, *, vendor: str = "", name: str = "",
                   available: bool = True, reason: str = "", options: dict[str, Any] | None = None,
                   identifier: str | None = None, extra: dict[str, Any] | None = None) -> Device:
        config: dict[str, Any] = {"execution_provider": ep_name, "provider_options": options or {}, **(extra or {})}
        if suffix:
            config["label_suffix"] = suffix
        if kind == "CPU" and not vendor:
            vendor, name = cpu_identity()[0], name or cpu_identity()[1]
        return self._device(identifier or kind or "?", config=config, execution_provider=ep_name, type=kind,
                            vendor=vendor, name=name, available=available, reason=reason)

    @staticmethod
    def _hw_name(kind: str, metadata: Any) -> str:
        meta = dict(metadata or {})
        for key in ("Description", "description", "name", "DeviceName"):
            if meta.get(key):
                return str(meta[key])
        return cpu_identity()[1] if kind == "CPU" else ""

    def _openvino_ep_devices(self, ort: Any) -> list[Device]:
        ep = OPENVINO_EP
        try:
            # lazy: the runtime, loaded when devices are listed (a missing one makes the backend "unavailable")
            from onnxruntime.capi import _pybind_state as capi

            ids = list(capi.get_available_openvino_device_ids())
        except Exception as exc:
            return [self._ep_device("?", ep, "OpenVINO", available=False,
                                    reason=f"get_available_openvino_device_ids() failed: {first_line(exc)}")]
        devices = []
        for device_type in dict.fromkeys([*ids, *OPENVINO_EP_DEVICE_TYPES]):
            usable = device_type in ids
            kind = device_type.split(".", 1)[0]
            vendor, name = cpu_identity() if kind == "CPU" else ("Intel", "")
            devices.append(self._ep_device(
                kind, ep, "OpenVINO", identifier=device_type, vendor=vendor, name=name,
                available=usable, options={"device_type": device_type},
                reason="" if usable else (
                    f"OpenVINO EP sees no {device_type}: get_available_openvino_device_ids() = {ids}; "
                    f"device_type={device_type} would silently run on the CPU EP"
                ),
            ))
        return devices
