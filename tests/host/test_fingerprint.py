"""The machine profile and its fingerprint: complete, stable, and sensitive to what changes results."""

from __future__ import annotations

import copy
import importlib.metadata
import platform
import re
from collections.abc import Callable
from typing import Any

import pytest

from genai_harness.host.fingerprint import FINGERPRINT_KEYS, fingerprint, hardware_class, machine_profile


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    return machine_profile()


def test_profile_describes_cpu_memory_os_python_runtimes(profile):
    cpu = profile["cpu"]
    assert cpu["brand"] and cpu["arch"]
    assert cpu["physical_cores"] >= 1 and cpu["logical_cores"] >= cpu["physical_cores"]
    assert 1 <= cpu["usable_cores"] <= cpu["logical_cores"]
    assert isinstance(cpu["flags"], list) and cpu["flags"] == sorted(cpu["flags"])
    if platform.machine() in ("x86_64", "AMD64"):
        assert "sse2" in cpu["flags"]
    assert profile["memory"]["total_gb"] > 0
    assert profile["os"]["system"] == platform.system() and profile["os"]["release"] == platform.release()
    assert profile["python"]["version"] == platform.python_version()
    runtimes = profile["runtimes"]["default"]
    for dist in ("onnxruntime", "onnxruntime-genai", "openvino", "openvino-genai"):
        assert runtimes[dist] == importlib.metadata.version(dist)
    assert set(FINGERPRINT_KEYS) <= set(profile)
    assert len(profile["fingerprint"]) == 16 and int(profile["fingerprint"], 16) >= 0


def test_fingerprint_is_stable_across_calls(profile):
    again = machine_profile()
    assert again["fingerprint"] == profile["fingerprint"] == fingerprint(profile)
    assert fingerprint(copy.deepcopy(profile)) == profile["fingerprint"]


def test_fingerprint_is_the_same_in_another_process(devices_json):
    """`genai-harness devices` ran in a subprocess; with the same environments the hash is equal."""
    machine = devices_json["machine"]
    others = {name: versions for name, versions in machine["runtimes"].items() if name != "default"}
    assert machine_profile(others)["fingerprint"] == machine["fingerprint"]


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(p: dict[str, Any]) -> None:
        target = p
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value

    return change


CHANGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "cpu brand": _set(("cpu", "brand"), "Another CPU 9000"),
    "cpu flags": lambda p: p["cpu"]["flags"].append("avx512_vnni_test"),
    "cpu cores": lambda p: p["cpu"].update(logical_cores=p["cpu"]["logical_cores"] + 1),
    "memory": lambda p: p["memory"].update(total_gb=p["memory"]["total_gb"] + 1),
    "os kernel": _set(("os", "release"), "0.0.0-test"),
    "python": _set(("python", "version"), "3.99.0"),
    "runtime version": _set(("runtimes", "default", "onnxruntime"), "0.0.1"),
    "another environment": _set(("runtimes", "ort-openvino"), {"onnxruntime-openvino": "1.0.0"}),
    "drivers": _set(("drivers", "nvidia"), "Some GPU, 999.99"),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_fingerprint_changes_with_what_changes_measurements(profile, what):
    changed = copy.deepcopy(profile)
    CHANGES[what](changed)
    assert fingerprint(changed) != fingerprint(profile)
    assert fingerprint(profile) == profile["fingerprint"]  # pure: the original is untouched


def test_fingerprint_ignores_hostname_and_itself(profile):
    renamed = copy.deepcopy(profile)
    renamed["hostname"] = "another-name"
    renamed["fingerprint"] = "0" * 16
    assert fingerprint(renamed) == profile["fingerprint"]


@pytest.mark.parametrize("field, value", [("cpu", "EPYC"), ("cpu", ["a"]), ("drivers", "nvidia"), ("os", 7)])
def test_hardware_class_of_a_malformed_stored_profile_is_a_hash_not_a_crash(profile, field, value):
    """A store's machine_profile is data: any JSON there gives a class (it crashed pick with exit 70)."""
    malformed = {**profile, field: value}
    assert re.fullmatch(r"[0-9a-f]{16}", hardware_class(malformed))
    if field == "cpu":  # the CPU is what tells two classes apart: a stored string is not this machine's CPU
        assert hardware_class(malformed) != hardware_class(profile)
