"""The ``openvino.genai`` backend: OpenVINO GenAI pipelines and plain OpenVINO models.

Tasks: text generation (LLMPipeline), text-to-image (Text2ImagePipeline) and image
classification (openvino.Core on a plain ONNX model). Devices come from
``openvino.Core().available_devices`` and their properties; plugins that fail to load or see no
device are listed with the runtime's own error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from genai_harness.backends.base import Backend, first_line
from genai_harness.backends.compile_cache import CacheIdentity
from genai_harness.errors import DeviceUnavailableError
from genai_harness.host.hostinfo import cpu_identity
from genai_harness.interface.devices import FRAMEWORK_OV_GENAI, Device
from genai_harness.interface.tasks import Task

if TYPE_CHECKING:
    from genai_harness.interface import classification, text2image, text2text

PHYSICAL_PLUGINS = ("CPU", "GPU", "NPU")
VIRTUAL_DEVICES = ("AUTO", "HETERO", "MULTI")
"""OpenVINO's scheduling devices; HETERO and MULTI are listed over every physical device present."""
PROPERTIES = ("FULL_DEVICE_NAME", "DEVICE_TYPE", "DEVICE_ARCHITECTURE", "OPTIMIZATION_CAPABILITIES",
              "INFERENCE_PRECISION_HINT", "KV_CACHE_PRECISION")
"""Read per physical device; INFERENCE_PRECISION_HINT is the plugin's default precision (bf16 on CPUs with it),
KV_CACHE_PRECISION its default KV-cache type (u8 on some CPUs; an IR's rt_info may set another)."""
DRIVER_PROPERTIES = ("NPU_DRIVER_VERSION", "NPU_COMPILER_VERSION", "GPU_DRIVER_VERSION", "DRIVER_VERSION")
"""Read per physical device into a compiled cache's key where the plugin answers (none does on a CPU)."""


class OpenVINOGenAIBackend(Backend):
    """OpenVINO GenAI (LLM, text-to-image) and OpenVINO (classification)."""

    framework: ClassVar[str] = FRAMEWORK_OV_GENAI
    tasks: ClassVar[tuple[str, ...]] = (Task.TEXT2TEXT, Task.TEXT2IMAGE, Task.CLASSIFICATION)
    runtime_module: ClassVar[str] = "openvino_genai"
    model_formats: ClassVar[dict[str, str]] = {
        Task.TEXT2TEXT: "openvino", Task.TEXT2IMAGE: "openvino", Task.CLASSIFICATION: "onnx"}
    distributions: ClassVar[tuple[str, ...]] = ("openvino-genai", "openvino", "openvino-tokenizers")

    def discovery_note(self) -> str:
        return "openvino.Core().available_devices with their properties; other plugins probed with get_versions()"

    def enumerate_devices(self) -> list[Device]:
        self.import_runtime()
        # lazy: the runtime, loaded when devices are listed (a missing one makes the backend "unavailable")
        import openvino

        core = openvino.Core()
        present = list(core.available_devices)
        devices = [self._physical(core, name) for name in present]
        seen_kinds = {name.split(".", 1)[0] for name in present}
        for plugin in PHYSICAL_PLUGINS:
            if plugin not in seen_kinds:
                devices.append(self._missing(core, plugin))
        for virtual in VIRTUAL_DEVICES:
            name = virtual if virtual == "AUTO" else f"{virtual}:{','.join(present)}"
            devices.append(self._device(
                name, config={"device": name, "properties": {}, "virtual": True}, execution_provider=virtual,
                type=virtual, name=f"{virtual} over {', '.join(present)}", available=bool(present),
                reason="" if present else "no physical device to schedule on",
            ))
        return devices

    def create_text2text(self, model_path: Path, device: Device) -> text2text.Pipeline:
        if device.identifier.split(":", 1)[0] == "MULTI":
            # openvino-genai 2026.4's LLMPipeline on MULTI dies in native code (SIGFPE) on a plain LLM:
            # refuse up front, with the devices that do run it, instead of a crashed cell.
            raise DeviceUnavailableError(
                f"openvino-genai's LLMPipeline does not run on {device.identifier} (it crashes in native code); "
                "use CPU, AUTO or HETERO:CPU for text2text (MULTI serves text2image and classification)")
        self.import_runtime()
        # lazy: ov_genai_pipeline loads openvino_genai, so a missing runtime leaves the backend "unavailable"
        from genai_harness.backends.ov_genai_pipeline import OVText2TextPipeline

        return OVText2TextPipeline(model_path, device)

    def create_text2image(self, model_path: Path, device: Device) -> text2image.Pipeline:
        self.import_runtime()
        # lazy: ov_genai_pipeline loads openvino_genai, so a missing runtime leaves the backend "unavailable"
        from genai_harness.backends.ov_genai_pipeline import OVText2ImagePipeline

        return OVText2ImagePipeline(model_path, device)

    def create_classifier(self, model_path: Path, device: Device) -> classification.Pipeline:
        self.import_runtime()
        # lazy: ov_genai_pipeline loads openvino_genai, so a missing runtime leaves the backend "unavailable"
        from genai_harness.backends.ov_genai_pipeline import OVClassificationPipeline

        return OVClassificationPipeline(model_path, device)

    def compile_cache(self, device: Device) -> CacheIdentity:
        """Every OpenVINO target compiles: its CACHE_DIR is keyed by OpenVINO's build, the physical devices it
        runs on (FULL_DEVICE_NAME, DEVICE_ARCHITECTURE) and their drivers where the plugin tells them."""
        self.import_runtime()
        # lazy: the runtime, loaded in the worker that runs the cell
        import openvino

        core = openvino.Core()
        name = str(device.config.get("device", device.identifier))
        named = [d for d in name.split(":", 1)[-1].split(",") if d and d.split(".", 1)[0] not in (*VIRTUAL_DEVICES,
                                                                                                   "BATCH")]
        described, drivers = [], []
        for physical in named or list(core.available_devices):
            answers = {key: _property(core, physical, key) for key in ("FULL_DEVICE_NAME", "DEVICE_ARCHITECTURE",
                                                                        *DRIVER_PROPERTIES)}
            described.append(" ".join(v for v in (physical, answers["FULL_DEVICE_NAME"],
                                                  answers["DEVICE_ARCHITECTURE"]) if v))
            drivers += [f"{physical} {key} {answers[key]}" for key in DRIVER_PROPERTIES if answers[key]]
        return CacheIdentity(f"openvino {openvino.get_version()}", f"{name}: {'; '.join(described)}",
                             "; ".join(drivers), "openvino CACHE_DIR")

    def _physical(self, core: Any, name: str) -> Device:
        props: dict[str, str] = {}
        for key in PROPERTIES:
            try:
                value = core.get_property(name, key)
            except Exception:
                continue
            props[key] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        kind = name.split(".", 1)[0]
        vendor = cpu_identity()[0] if kind == "CPU" else "Intel"
        return self._device(
            name, config={"device": name, "properties": {}, "ov_properties": props},
            execution_provider=f"openvino_{kind.lower()}_plugin", type=kind, vendor=vendor,
            name=props.get("FULL_DEVICE_NAME", name),
        )

    def _missing(self, core: Any, plugin: str) -> Device:
        try:
            version = core.get_versions(plugin)[plugin]
            reason = (f"plugin {version.description} {version.build_number} loads but finds no device "
                      "(available_devices does not list it)")
        except Exception as exc:
            reason = first_line(exc)
        return self._device(
            plugin, config={"device": plugin, "properties": {}},
            execution_provider=f"openvino_{plugin.lower()}_plugin", type=plugin,
            vendor="Intel", available=False, reason=reason,
        )


def _property(core: Any, device: str, key: str) -> str:
    """A device property as text ("" where the plugin does not answer)."""
    try:
        value = core.get_property(device, key)
    except Exception:
        return ""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
