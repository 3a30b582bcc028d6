"""Plugin EP libraries in the onnxruntime backends (logic): registration, naming, empty offers, bad libraries.

A fake ``onnxruntime`` module stands in for the runtime's registration API here, so cases this machine lacks
(a plugin that offers a CPU and an NPU, one that fails to register) are covered; the real
onnxruntime-ep-openvino is registered in tests/backends/test_ep_plugins_real.py.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pytest

from genai_harness.backends import ep_plugins
from genai_harness.backends.ort import OnnxRuntimeBackend
from genai_harness.backends.ort_genai import OnnxRuntimeGenAIBackend
from genai_harness.host import ep_libraries as eplib


@dataclass
class Hardware:
    type: str
    vendor: str
    vendor_id: int
    device_id: int = 0
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class EpDevice:
    ep_name: str
    device: Hardware
    ep_vendor: str = "Acme"
    ep_metadata: dict[str, str] = field(default_factory=dict)
    ep_options: dict[str, str] = field(default_factory=dict)


CPU = Hardware("OrtHardwareDeviceType.CPU", "Acme", 0xACE, metadata={})
NPU = Hardware("OrtHardwareDeviceType.NPU", "Acme", 0xACE, 7, {"Description": "Acme NPU 3000"})


class FakeOrt:
    """The part of onnxruntime's module the plugin code calls: get_ep_devices and library registration."""

    __version__ = "1.32.0"

    def __init__(self, offers: dict[str, list[EpDevice] | Exception]) -> None:
        self.offers = offers
        self.devices = [EpDevice("CPUExecutionProvider", CPU, "Microsoft")]
        self.registered: list[tuple[str, str]] = []

    def get_available_providers(self) -> list[str]:
        return ["CPUExecutionProvider"]

    def get_ep_devices(self) -> list[EpDevice]:
        return list(self.devices)

    def register_execution_provider_library(self, name: str, path: str) -> None:
        offer = self.offers[path]
        if isinstance(offer, Exception):
            raise offer
        if (name, path) in self.registered:
            raise RuntimeError(f"EP library is already registered under {name}")
        self.registered.append((name, path))
        self.devices += offer


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ep_plugins, "_ort_registrations", {})
    monkeypatch.setattr(ep_plugins, "_genai_registrations", {})
    monkeypatch.setattr(eplib, "_settings", {"configured": [], "discover": False})
    monkeypatch.delenv(eplib.SWITCH_ENV_VAR, raising=False)


def use(*libraries: eplib.EpLibrary) -> None:
    eplib.configure(list(libraries), discover=False)


ACME = eplib.EpLibrary("acme", "/opt/acme/libacme_ep.so", "config")
PLUGIN_OV = eplib.EpLibrary("onnxruntime-ep-openvino", "/site/libov_plugin.so", "package",
                            "onnxruntime-ep-openvino", "1.8.1", ("OpenVINOExecutionProvider",))


def backend_with(monkeypatch: pytest.MonkeyPatch, ort: FakeOrt) -> OnnxRuntimeBackend:
    b = OnnxRuntimeBackend()
    monkeypatch.setattr(b, "import_runtime", lambda: ort)
    return b


def test_each_offered_device_is_a_plugin_target_beside_the_compiled_in_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    ort = FakeOrt({PLUGIN_OV.path: [
        EpDevice("OpenVINOExecutionProvider", CPU, "Intel", {"ov_device": "CPU"}),
        EpDevice("OpenVINOExecutionProvider", NPU, "Intel", {"ov_device": "NPU"}),
        EpDevice("OpenVINOExecutionProvider.AUTO", CPU, "Intel", {"ov_device": "CPU", "ov_meta_device": "AUTO"}),
    ]})
    use(PLUGIN_OV)
    devices = {d.label: d for d in backend_with(monkeypatch, ort).enumerate_devices()}
    assert {"CPU:OpenVINO-plugin", "NPU:OpenVINO-plugin", "CPU:OpenVINO.AUTO-plugin"} <= set(devices)
    assert devices["CPU"].execution_provider == "CPUExecutionProvider"  # the CPU EP keeps its own label
    assert not devices["NPU:OpenVINO"].available  # the compiled-in EP is a different target, absent here
    npu = devices["NPU:OpenVINO-plugin"]
    assert npu.available and npu.name == "Acme NPU 3000" and npu.identifier == "NPU"
    assert npu.config["use_ep_devices"] is True
    assert npu.config["ep_device"] == {"ep_name": "OpenVINOExecutionProvider", "type": "NPU", "vendor_id": 0xACE,
                                       "device_id": 7}
    assert npu.config["ep_library"]["package"] == "onnxruntime-ep-openvino"
    assert npu.config["ep_library"]["version"] == "1.8.1"
    assert npu.config["ep_metadata"] == {"ov_device": "NPU"}
    assert npu.matches("NPU:OpenVINO-plugin") and not npu.matches("NPU:OpenVINO")
    assert devices["CPU:OpenVINO.AUTO-plugin"].config["virtual"] is True  # AUTO & co. only when asked for by name
    assert "virtual" not in npu.config


def test_two_devices_of_one_kind_are_numbered(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu0 = Hardware("OrtHardwareDeviceType.GPU", "Acme", 0xACE, 1)
    gpu1 = Hardware("OrtHardwareDeviceType.GPU", "Acme", 0xACE, 2)
    ort = FakeOrt({ACME.path: [EpDevice("AcmeExecutionProvider", gpu0), EpDevice("AcmeExecutionProvider", gpu1)]})
    use(ACME)
    labels = [d.label for d in backend_with(monkeypatch, ort).enumerate_devices() if "plugin" in d.label]
    assert labels == ["GPU.0:Acme-plugin", "GPU.1:Acme-plugin"]


def test_a_library_that_offers_nothing_is_a_finding_with_the_hardware_it_saw(monkeypatch: pytest.MonkeyPatch) -> None:
    ort = FakeOrt({PLUGIN_OV.path: []})
    use(PLUGIN_OV)
    devices = backend_with(monkeypatch, ort).enumerate_devices()
    assert not [d for d in devices if "plugin" in d.label]
    (report,) = [r.to_dict() for r in ep_plugins._ort_registrations.values()]
    assert report["registered"] is True and report["devices"] == []
    assert report["reason"].startswith("onnxruntime-ep-openvino 1.8.1 registered into onnxruntime 1.32.0 but "
                                       "offers no device")
    assert "CPU Acme (vendor_id 0x0ace)" in report["reason"]


def test_a_library_that_fails_to_register_is_named_in_the_runtimes_words_and_nothing_else_is_lost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    bad = eplib.EpLibrary("bad", "/opt/bad.so", "config")
    words = "Failed to get symbol CreateEpFactories with error: /opt/bad.so: undefined symbol: CreateEpFactories"
    ort = FakeOrt({bad.path: RuntimeError(f"[ONNXRuntimeError] : 1 : FAIL : {words}"),
                   ACME.path: [EpDevice("AcmeExecutionProvider", NPU)]})
    use(bad, ACME)
    labels = [d.label for d in backend_with(monkeypatch, ort).enumerate_devices() if d.available]
    assert "CPU" in labels and "NPU:Acme-plugin" in labels
    report = {r.library.name: r.to_dict() for r in ep_plugins._ort_registrations.values()}
    assert report["bad"]["registered"] is False
    assert words in report["bad"]["reason"] and "onnxruntime 1.32.0 cannot register it" in report["bad"]["reason"]
    assert "[ep_libraries]" in report["bad"]["reason"] and "\n" not in report["bad"]["reason"]


def test_a_library_known_bad_before_loading_is_not_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = eplib.EpLibrary("gone", "/nope.so", "config", error="EP library 'gone': /nope.so does not exist; fix it")
    ort = FakeOrt({})
    use(gone)
    backend_with(monkeypatch, ort).enumerate_devices()
    assert ort.registered == []
    assert ep_plugins._ort_registrations["gone"].reason == gone.error


def test_registration_happens_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    ort = FakeOrt({ACME.path: [EpDevice("AcmeExecutionProvider", NPU)]})
    use(ACME)
    first = ep_plugins.register_all(ort)
    again = ep_plugins.register_all(ort)
    assert ort.registered == [("acme", ACME.path)]
    assert again[0] is first[0] and again[0].error == ""


class FakeGenAI:
    __version__ = "0.18.0"

    def __init__(self) -> None:
        self.registered: list[str] = []

    def register_execution_provider_library(self, name: str, path: str) -> None:
        self.registered.append(name)


def test_onnxruntime_genai_gets_a_target_per_ep_it_can_name(monkeypatch: pytest.MonkeyPatch) -> None:
    ort = FakeOrt({PLUGIN_OV.path: [EpDevice("OpenVINOExecutionProvider", CPU, "Intel", {"ov_device": "CPU"}),
                                    EpDevice("OpenVINOExecutionProvider.AUTO", CPU, "Intel")],
                   ACME.path: [EpDevice("AcmeExecutionProvider", NPU)]})
    use(PLUGIN_OV, ACME)
    genai = FakeGenAI()
    registrations = ep_plugins.register_all(ort)
    b = OnnxRuntimeGenAIBackend()
    devices = [d for reg in registrations for d in b._plugin_devices(genai, reg)]
    assert [(d.label, d.config["provider"], d.available) for d in devices] == [("CPU:OpenVINO-plugin", "OpenVINO",
                                                                                True)]
    assert devices[0].config["ep_library"]["name"] == "onnxruntime-ep-openvino"
    assert genai.registered == ["onnxruntime-ep-openvino"]


def test_onnxruntime_genai_refuses_an_ep_offered_on_several_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    ort = FakeOrt({PLUGIN_OV.path: [EpDevice("OpenVINOExecutionProvider", CPU), EpDevice("OpenVINOExecutionProvider",
                                                                                         NPU)]})
    use(PLUGIN_OV)
    (device,) = OnnxRuntimeGenAIBackend()._plugin_devices(FakeGenAI(), ep_plugins.register_all(ort)[0])
    assert not device.available and "CPU, NPU" in device.reason and "onnxruntime framework" in device.reason


def test_plugin_label_names() -> None:
    assert ep_plugins.plugin_label_suffix("OpenVINOExecutionProvider") == "OpenVINO-plugin"
    assert ep_plugins.plugin_label_suffix("NvTensorRTRTXExecutionProvider") == "TensorRTRTX-plugin"
    assert ep_plugins.plugin_label_suffix("OpenVINOExecutionProvider.AUTO") == "OpenVINO.AUTO-plugin"
    assert ep_plugins.plugin_label_suffix("VendorEP") == "VendorEP-plugin"


def test_without_onnxruntime_each_library_is_listed_with_that_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    use(ACME)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails like a missing runtime
    (report,) = ep_plugins.library_report()
    assert report["name"] == "acme" and report["devices"] == [] and "onnxruntime is not importable" in report["reason"]
