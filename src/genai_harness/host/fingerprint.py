"""The machine profile recorded with every result, and its stable fingerprint.

The fingerprint is a hash of everything that can change a measurement: CPU model and flags,
core counts, memory size, OS and kernel, Python, and the version of every runtime in every
environment. It changes when any of them changes; it does not change between runs otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import psutil

from genai_harness.host.cpu_probe import probe_cpu

RUNTIME_DISTRIBUTIONS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-openvino",
    "onnxruntime-qnn",
    "onnxruntime-directml",
    "onnxruntime-genai",
    "onnxruntime-genai-cuda",
    "onnxruntime-genai-directml",
    "openvino",
    "openvino-genai",
    "openvino-tokenizers",
    "numpy",
)

FINGERPRINT_KEYS = ("cpu", "memory", "os", "python", "runtimes", "drivers")


def installed_runtime_versions() -> dict[str, str]:
    """Versions of the runtime distributions installed in this interpreter (metadata only, no import)."""
    found = {}
    for dist in RUNTIME_DISTRIBUTIONS:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


@functools.lru_cache(maxsize=1)
def _cpu() -> dict[str, Any]:
    info = probe_cpu(platform.machine())  # py-cpuinfo's probe, remembered per CPU (host.cpu_probe)
    return {
        "brand": info.get("brand_raw") or "",
        "vendor": info.get("vendor_id_raw") or "",
        "arch": info.get("arch") or platform.machine(),
        "bits": info.get("bits") or 0,
        "physical_cores": psutil.cpu_count(logical=False) or 0,
        "logical_cores": psutil.cpu_count(logical=True) or 0,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0,
        "flags": sorted(info.get("flags") or []),
    }


def _drivers() -> dict[str, str]:
    drivers = {}
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20, check=False).stdout.strip()
            if out:
                drivers["nvidia"] = out.replace("\n", "; ")
        except (OSError, subprocess.TimeoutExpired):
            pass
    return drivers


def machine_profile(environment_versions: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The profile of this machine; ``environment_versions`` adds each other environment's runtimes."""
    runtimes = {"default": installed_runtime_versions()}
    for name, versions in (environment_versions or {}).items():
        runtimes[name] = dict(sorted(versions.items()))
    uname = platform.uname()
    profile = {
        "cpu": _cpu(),
        "memory": {"total_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "os": {"system": uname.system, "release": uname.release, "version": uname.version,
               "platform": platform.platform()},
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "runtimes": runtimes,
        "drivers": _drivers(),
        "hostname": uname.node,
    }
    profile["fingerprint"] = fingerprint(profile)
    return profile


def fingerprint(profile: Mapping[str, Any]) -> str:
    """A short stable hash of the parts of a profile that can change a measurement (pure)."""
    stable = {key: profile.get(key) for key in FINGERPRINT_KEYS}
    digest = hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:16]


def hardware_class(profile: Mapping[str, Any]) -> str:
    """A short hash of the hardware alone (CPU, memory, accelerator drivers' device names), pure.

    Two machines of one class ran the same hardware; their fingerprints differ when software differs
    (runtime versions, OS, Python). The dispatcher uses evidence of the same class, labelled, or stale.
    """
    drivers = {k: str(v).split(",")[0] for k, v in _mapping(profile.get("drivers")).items()}
    cpu_value = profile.get("cpu")  # a store's profile is data: a string there is kept as it is, not walked
    cpu = {k: v for k, v in cpu_value.items() if k != "usable_cores"} if isinstance(cpu_value, Mapping) else cpu_value
    stable = {"cpu": cpu, "memory": profile.get("memory"), "drivers": drivers,
              "system": _mapping(profile.get("os")).get("system")}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (profiles read from a store may be malformed)."""
    return value if isinstance(value, Mapping) else {}
