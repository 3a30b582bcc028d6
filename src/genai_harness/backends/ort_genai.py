"""The ``onnxruntime_genai`` backend: LLM generation with onnxruntime-genai.

onnxruntime-genai has no device discovery of its own, and its ``is_*_available()`` functions
return True whatever the hardware. Its devices are therefore established from what its build is
(``onnxruntime_genai.__id__``: onnxruntime-genai, -cuda, -directml ...) and the execution
providers of the onnxruntime library it loads (``onnxruntime.get_available_providers()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from genai_harness.backends.base import Backend
from genai_harness.backends.ep_plugins import hardware_kind, plugin_label_suffix, register_all, register_genai
from genai_harness.host.hostinfo import cpu_identity
from genai_harness.interface.devices import FRAMEWORK_ORT_GENAI, Device
from genai_harness.interface.tasks import Task

if TYPE_CHECKING:
    from genai_harness.interface import text2text

# onnxruntime-genai provider name -> (onnxruntime EP that must be present, device type, label)
GENAI_PROVIDERS: dict[str, tuple[str, str, str]] = {
    "cpu": ("CPUExecutionProvider", "CPU", ""),
    "cuda": ("CUDAExecutionProvider", "GPU", "CUDA"),
    "dml": ("DmlExecutionProvider", "GPU", "DML"),
    "webgpu": ("WebGpuExecutionProvider", "GPU", "WebGPU"),
    "NvTensorRtRtx": ("NvTensorRTRTXExecutionProvider", "GPU", "TensorRTRTX"),
    "qnn": ("QNNExecutionProvider", "NPU", "QNN"),
    "OpenVINO": ("OpenVINOExecutionProvider", "NPU", "OpenVINO"),
}


class OnnxRuntimeGenAIBackend(Backend):
    """onnxruntime-genai models (genai_config.json folders) for text generation."""

    framework: ClassVar[str] = FRAMEWORK_ORT_GENAI
    tasks: ClassVar[tuple[str, ...]] = (Task.TEXT2TEXT,)
    runtime_module: ClassVar[str] = "onnxruntime_genai"
    registers_ep_libraries: ClassVar[bool] = True
    model_formats: ClassVar[dict[str, str]] = {Task.TEXT2TEXT: "onnxruntime_genai"}
    distributions: ClassVar[tuple[str, ...]] = (
        "onnxruntime-genai",
        "onnxruntime-genai-cuda",
        "onnxruntime-genai-directml",
        "onnxruntime",
        "onnxruntime-gpu",
    )

    def discovery_note(self) -> str:
        return (
            "onnxruntime-genai has no device discovery and its is_*_available() always return True; "
            "devices here follow its build id (onnxruntime_genai.__id__) and the execution providers "
            "of the onnxruntime library it loads (onnxruntime.get_available_providers()); plugin EP libraries "
            "are registered with onnxruntime_genai.register_execution_provider_library and offer the devices "
            "onnxruntime.get_ep_devices() lists for them (targets KIND:EP-plugin)"
        )

    def enumerate_devices(self) -> list[Device]:
        og = self.import_runtime()
        build = getattr(og, "__id__", "onnxruntime-genai")
        try:
            # lazy: the onnxruntime library onnxruntime-genai uses, loaded when devices are listed (may be missing)
            import onnxruntime

            providers = list(onnxruntime.get_available_providers())
            registrations = register_all(onnxruntime)
        except Exception as exc:
            providers, registrations = ["CPUExecutionProvider"], []
            build += f" (onnxruntime not importable: {exc})"
        devices = []
        for provider, (ep_name, kind, suffix) in GENAI_PROVIDERS.items():
            usable = ep_name in providers
            config: dict[str, Any] = {"provider": provider, "provider_options": {}}
            if suffix:
                config["label_suffix"] = suffix
            vendor, name = cpu_identity() if kind == "CPU" else ("", "")
            devices.append(self._device(
                kind, config=config, execution_provider=ep_name, type=kind, vendor=vendor, name=name,
                available=usable,
                reason="" if usable else (
                    f"build {build} {og.__version__} loads an onnxruntime without {ep_name} "
                    f"(get_available_providers() = {providers})"
                ),
            ))
        for registration in registrations:
            devices += self._plugin_devices(og, registration)
        return devices

    def _plugin_devices(self, og: Any, registration: Any) -> list[Device]:
        """The targets a plugin library offers onnxruntime-genai: one per EP it names that onnxruntime-genai knows.

        onnxruntime-genai takes every device a plugin offers for the EP of its provider, so an EP offered on
        several devices is one target only when they are of one kind; otherwise none, said so.
        """
        by_ep: dict[str, list[Any]] = {}
        for ep_device in registration.devices:
            by_ep.setdefault(str(ep_device.ep_name), []).append(ep_device)
        provider_of = {ep_name: provider for provider, (ep_name, _k, _s) in GENAI_PROVIDERS.items()}
        devices = []
        for ep_name, offered in by_ep.items():
            if ep_name not in provider_of:
                continue  # a meta factory (OpenVINOExecutionProvider.AUTO) or an EP onnxruntime-genai cannot name
            kinds = sorted({hardware_kind(d) for d in offered})
            error = register_genai(og, registration.library.to_dict())
            if not error and len(kinds) > 1:
                error = (f"{registration.library.described} offers {ep_name} on {', '.join(kinds)}; onnxruntime-genai "
                         "takes them all and cannot be told which runs: use the onnxruntime framework for these")
            hw = offered[0].device
            config: dict[str, Any] = {"provider": provider_of[ep_name], "provider_options": {},
                                      "label_suffix": plugin_label_suffix(ep_name),
                                      "ep_library": registration.library.to_dict(),
                                      "ep_metadata": dict(offered[0].ep_metadata or {})}
            kind = kinds[0]
            vendor, name = cpu_identity() if kind == "CPU" else (str(hw.vendor), "")
            devices.append(self._device(kind, config=config, execution_provider=ep_name, type=kind, vendor=vendor,
                                        name=name, available=not error, reason=error))
        return devices

    def create_text2text(self, model_path: Path, device: Device) -> text2text.Pipeline:
        self.import_runtime()
        # lazy: the pipeline loads onnxruntime_genai, so a missing runtime leaves the backend "unavailable"
        from genai_harness.backends.ort_genai_pipeline import OrtGenAIText2TextPipeline

        return OrtGenAIText2TextPipeline(model_path, device)
