"""Energy counters: Linux powercap/RAPL for CPUs, NVML for NVIDIA GPUs.

A meter reads a cumulative counter in joules; a cell reads it around each repetition. Where the machine
exposes no counter (most VMs have no ``/sys/class/powercap``; no NVIDIA driver, no nvidia-ml-py) the
cell records null energy and ``energy_source`` says why. Both readers take their source as a parameter
(a sysfs root, an NVML module), so tests run them against a fake tree and a stubbed NVML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POWERCAP_ROOT = Path("/sys/class/powercap")
NVIDIA_HINTS = ("cuda", "nvidia", "tensorrt", "nvtensorrt")


@dataclass
class Meter:
    """A cumulative energy counter: ``read_j()`` in joules (monotonic, wraps handled by :meth:`delta_j`)."""

    source: str
    read_j: Callable[[], float]
    wrap_j: float = 0.0

    def delta_j(self, start_j: float, end_j: float) -> float:
        """Joules between two readings, across one counter wrap-around."""
        delta = end_j - start_j
        return delta + self.wrap_j if delta < 0 and self.wrap_j else delta


def rapl_meter(root: Path = POWERCAP_ROOT) -> tuple[Meter | None, str]:
    """The sum of every RAPL package domain under ``root``, or None and why not."""
    if not root.is_dir():
        return None, f"no {root}: this machine (a VM?) does not expose RAPL energy counters"
    packages = []
    for zone in sorted(root.glob("intel-rapl:*")) + sorted(root.glob("amd-rapl:*")):
        if ":" in zone.name.split("rapl:", 1)[1]:
            continue  # subzones (core, uncore, dram) are inside their package
        name_file = zone / "name"
        name = name_file.read_text().strip() if name_file.is_file() else ""
        if name.startswith("package") and (zone / "energy_uj").is_file():
            packages.append(zone)
    if not packages:
        return None, f"{root} has no RAPL package domain (intel-rapl:N with name package-N)"
    try:
        wrap = sum(int((z / "max_energy_range_uj").read_text()) for z in packages) / 1e6 \
            if all((z / "max_energy_range_uj").is_file() for z in packages) else 0.0
        for zone in packages:
            int((zone / "energy_uj").read_text())
    except PermissionError:
        return None, f"{packages[0] / 'energy_uj'} is readable by root only; run as root to record energy"
    except (OSError, ValueError) as exc:
        return None, f"cannot read {packages[0] / 'energy_uj'}: {exc}"

    def read() -> float:
        return sum(int((z / "energy_uj").read_text()) for z in packages) / 1e6

    names = ",".join(z.name for z in packages)
    return Meter(f"rapl:{names}", read, wrap if len(packages) == 1 else 0.0), ""


def nvml_meter(index: int = 0, nvml: Any = None) -> tuple[Meter | None, str]:
    """NVIDIA GPU ``index``'s total energy counter (NVML, millijoules since driver load), or None and why not."""
    if nvml is None:
        try:
            import pynvml as nvml  # the nvidia-ml-py distribution
        except ImportError:
            return None, "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    try:
        nvml.nvmlInit()
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        name = nvml.nvmlDeviceGetName(handle)
    except Exception as exc:
        return None, f"NVML has no energy counter for GPU {index}: {type(exc).__name__}: {exc}"
    name = name.decode() if isinstance(name, bytes) else str(name)

    def read() -> float:
        return float(nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) / 1000.0

    return Meter(f"nvml:{index}:{name}", read), ""


def is_nvidia(device: Any) -> bool:
    """Whether a Device runs on an NVIDIA GPU (its EP, provider or vendor says so)."""
    text = " ".join(str(x) for x in (getattr(device, "execution_provider", ""), getattr(device, "vendor", ""),
                                      dict(getattr(device, "config", {}) or {}).get("provider", ""))).lower()
    return any(hint in text for hint in NVIDIA_HINTS)


def meter_for(device: Any, root: Path = POWERCAP_ROOT, nvml: Any = None) -> tuple[Meter | None, str]:
    """The counter that measures ``device``: NVML for NVIDIA GPUs, RAPL for CPUs; None and why for others."""
    kind = str(getattr(device, "type", "") or getattr(device, "identifier", "")).upper()
    if is_nvidia(device):
        index = str(getattr(device, "identifier", "GPU")).partition(".")[2]
        return nvml_meter(int(index) if index.isdigit() else 0, nvml)
    if kind == "CPU":
        return rapl_meter(root)
    return None, f"no energy counter known for a {kind or 'this'} device (RAPL covers CPUs, NVML NVIDIA GPUs)"


def describe(root: Path = POWERCAP_ROOT, nvml: Any = None) -> list[tuple[str, str]]:
    """(counter, state) for the ``devices`` listing: what this machine exposes, or why not."""
    rows = []
    for label, (meter, why) in (("CPU (powercap/RAPL)", rapl_meter(root)),
                                ("NVIDIA GPU (NVML)", nvml_meter(0, nvml))):
        rows.append((label, f"available: {meter.source}" if meter else f"unavailable: {why}"))
    return rows
