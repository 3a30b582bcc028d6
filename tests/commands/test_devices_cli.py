"""`genai-harness devices`: real enumeration of the installed runtimes, as text and as JSON.

Every listing here comes from a real subprocess run in the checkout; the expectations are
cross-checked against the runtimes themselves, asked in this process.
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Any

import pytest
from support import DEVICE_KEYS, backend, devices_of, environment, run_cli

from genai_harness.host.hostinfo import cpu_identity
from genai_harness.interface import Device

BUILTIN = ("onnxruntime", "onnxruntime_genai", "openvino.genai")
ENV_KEYS = {"environment", "python", "python_version", "source", "error", "backends", "devices"}
BACKEND_KEYS = {"framework", "target", "environment", "available", "reason", "tasks", "versions", "discovery_note"}


def has_opencl() -> bool:
    try:
        ctypes.CDLL("libOpenCL.so.1")
    except OSError:
        return False
    return True


def the_device(env: dict[str, Any], framework: str, label: str) -> dict[str, Any]:
    found = [d for d in devices_of(env, framework) if d["label"] == label]
    assert len(found) == 1, f"{framework} {label}: {[d['label'] for d in devices_of(env, framework)]}"
    return found[0]


@pytest.fixture(scope="module")
def default_env(devices_json) -> dict[str, Any]:
    return environment(devices_json, "default")


@pytest.fixture(scope="module")
def devices_text() -> str:
    proc = run_cli("devices")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


# ---- JSON structure -----------------------------------------------------------------------------

def test_json_has_machine_and_environments(devices_json):
    assert set(devices_json) == {"machine", "environments", "ep_libraries"}
    assert {"cpu", "memory", "os", "python", "runtimes", "fingerprint"} <= set(devices_json["machine"])
    assert devices_json["environments"][0]["environment"] == "default"
    for env in devices_json["environments"]:
        assert set(env) >= ENV_KEYS, set(env)
        assert env["error"] == "", env["error"]
        assert Path(env["python"]).exists()
        for b in env["backends"]:
            assert set(b) >= BACKEND_KEYS, set(b)
            assert b["environment"] == env["environment"]
            assert b["available"] is (b["reason"] == ""), b


def test_every_device_is_complete_and_consistent(devices_json):
    for env in devices_json["environments"]:
        usable_backends = {b["framework"] for b in env["backends"] if b["available"]}
        for d in env["devices"]:
            assert set(d) >= DEVICE_KEYS, d
            assert isinstance(d["available"], bool)
            assert d["environment"] == env["environment"]
            assert d["framework"] in usable_backends
            assert d["identifier"] and d["type"] and d["execution_provider"]
            assert d["label"] == Device.from_dict(d).label
            if d["available"]:
                assert d["reason"] == "", d
            else:
                assert len(d["reason"]) > 10, f"unusable device without a reason: {d}"


def test_default_environment_has_the_three_runtimes(default_env, devices_json):
    from genai_harness.host.fingerprint import installed_runtime_versions

    assert Path(default_env["python"]).name.startswith("python")
    installed = installed_runtime_versions()
    for name in BUILTIN:
        b = backend(default_env, name)
        assert b["available"], b["reason"]
        assert b["tasks"] and b["discovery_note"]
        assert b["versions"] and all(installed.get(k) == v for k, v in b["versions"].items()), b["versions"]
    assert devices_json["machine"]["runtimes"]["default"] == installed


# ---- real devices, cross-checked with the runtimes ----------------------------------------------

def test_onnxruntime_cpu_execution_provider(default_env):
    import onnxruntime

    vendor, brand = cpu_identity()
    cpu = the_device(default_env, "onnxruntime", "CPU")
    assert cpu["available"] and cpu["execution_provider"] == "CPUExecutionProvider"
    assert cpu["type"] == "CPU" and cpu["vendor"] == vendor and cpu["name"]
    assert cpu["config"]["execution_provider"] == "CPUExecutionProvider"
    usable = {d["execution_provider"] for d in devices_of(default_env, "onnxruntime") if d["available"]}
    assert usable <= set(onnxruntime.get_available_providers())
    for d in devices_of(default_env, "onnxruntime"):
        if not d["available"] and d["execution_provider"] not in onnxruntime.get_available_providers():
            assert f"not in this onnxruntime {onnxruntime.__version__} build" in d["reason"]
    assert brand


def test_onnxruntime_genai_cpu(default_env):
    import onnxruntime_genai

    vendor, brand = cpu_identity()
    cpu = the_device(default_env, "onnxruntime_genai", "CPU")
    assert cpu["available"] and cpu["execution_provider"] == "CPUExecutionProvider"
    assert (cpu["vendor"], cpu["name"]) == (vendor, brand)
    assert cpu["config"]["provider"] == "cpu"
    for d in devices_of(default_env, "onnxruntime_genai"):
        if not d["available"]:
            assert onnxruntime_genai.__version__ in d["reason"] and d["execution_provider"] in d["reason"]


def test_openvino_genai_cpu_and_auto(default_env):
    import openvino

    core = openvino.Core()
    vendor, _ = cpu_identity()
    cpu = the_device(default_env, "openvino.genai", "CPU")
    assert cpu["available"] and cpu["execution_provider"] == "openvino_cpu_plugin"
    assert cpu["vendor"] == vendor
    assert cpu["name"] == core.get_property("CPU", "FULL_DEVICE_NAME")
    physical = {d["identifier"] for d in devices_of(default_env, "openvino.genai")
                if d["available"] and not d["config"].get("virtual")}
    assert physical == set(core.available_devices)
    assert the_device(default_env, "openvino.genai", "AUTO")["available"]


def test_openvino_genai_unusable_plugins_say_why_in_runtime_words(default_env):
    import openvino

    present = {name.split(".", 1)[0] for name in openvino.Core().available_devices}
    for plugin in ("GPU", "NPU"):
        if plugin in present:  # pragma: no cover - machines with Intel GPU/NPU
            continue
        d = the_device(default_env, "openvino.genai", plugin)
        assert not d["available"] and d["execution_provider"] == f"openvino_{plugin.lower()}_plugin"
        assert d["reason"], d
    gpu = the_device(default_env, "openvino.genai", "GPU")
    if not gpu["available"] and not has_opencl():
        # The GPU plugin cannot even load without the OpenCL ICD loader; the runtime says so.
        assert "libOpenCL" in gpu["reason"], gpu["reason"]
    npu = the_device(default_env, "openvino.genai", "NPU")
    if not npu["available"] and not Path("/dev/accel").exists():
        assert "npu" in npu["reason"].lower() or "NPU" in npu["reason"], npu["reason"]


# ---- the text listing shows the same data -------------------------------------------------------

def test_text_listing_shows_the_same_data(devices_json, devices_text):
    lines = [ln.strip() for ln in devices_text.splitlines()]
    assert f"Machine {devices_json['machine']['fingerprint']}" in devices_text
    assert devices_json["machine"]["cpu"]["brand"] in devices_text
    for header in ("Backends", "Usable devices (select with --device LABEL, or LABEL@env)",
                   "Seen but not usable here, in the runtime's own words"):
        assert header in lines
    for env in devices_json["environments"]:
        name = env["environment"]
        for b in env["backends"]:
            if b["available"]:
                assert any(ln.split()[:3] == [name, b["framework"], "available"] for ln in lines), b
        for d in env["devices"]:
            if d["available"]:
                row = [name, d["framework"], d["label"], d["execution_provider"]]
                assert any(ln.split()[:4] == row for ln in lines), f"no row {row}"
            else:
                line = f"[{name}] {d['framework']} {d['label']} ({d['execution_provider']}): {d['reason']}"
                assert line in lines, f"missing: {line}"


def test_text_listing_names_cpu_vendor_and_ep(devices_text):
    vendor, _ = cpu_identity()
    rows = [ln.split() for ln in devices_text.splitlines()]
    ort_cpu = [r for r in rows if r[:4] == ["default", "onnxruntime", "CPU", "CPUExecutionProvider"]]
    assert ort_cpu and ort_cpu[0][4:6] == ["CPU", vendor.split()[0]]
    assert any(r[:4] == ["default", "openvino.genai", "CPU", "openvino_cpu_plugin"] for r in rows)
    assert any(r[:4] == ["default", "onnxruntime_genai", "CPU", "CPUExecutionProvider"] for r in rows)
    assert "How devices were found" in devices_text


def test_text_listing_shows_each_devices_default_precision(devices_text):
    """OpenVINO's CPU default is what its plugin answers (bf16 on CPUs with native bf16), its KV cache too (u8 on
    some CPUs); onnxruntime EPs run the model's own types; the OpenVINO EP its documented default."""
    import openvino

    from genai_harness.backends import numerics as nx

    hint = str(openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")).split("'")[1]
    expected = {"bfloat16": "bf16", "float32": "f32", "float16": "f16"}[hint]
    kv = nx.kv_cache_word(openvino.Core().get_property("CPU", "KV_CACHE_PRECISION"))
    assert "default precision" in devices_text and "default KV cache" in devices_text
    assert re.search(rf"^default\s+openvino\.genai\s+CPU\s+openvino_cpu_plugin\s.*\s{expected}\s+{kv}$",
                     devices_text, re.M), devices_text
    assert re.search(r"^default\s+onnxruntime\s+CPU\s+CPUExecutionProvider\s.*\smodel's own\s+model's own$",
                     devices_text, re.M)


def test_text_listing_says_why_energy_is_not_recorded(devices_text):
    from genai_harness.host.energy import describe

    assert "Energy counters" in devices_text
    for label, state in describe():
        assert f"  {label}: {state}" in devices_text
