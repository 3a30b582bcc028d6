"""Small facts about the host that need no third-party package (safe in any environment)."""

from __future__ import annotations

import functools
import platform
from pathlib import Path


@functools.lru_cache(maxsize=1)
def cpu_identity() -> tuple[str, str]:
    """(vendor, brand) of the CPU, from /proc/cpuinfo where present, else ``platform``."""
    vendor, brand = "", ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "vendor_id" and not vendor:
                vendor = value
            elif key == "model name" and not brand:
                brand = value
            if vendor and brand:
                break
    vendor = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD"}.get(vendor, vendor)
    return vendor or platform.machine(), brand or platform.processor() or platform.machine()
