"""py-cpuinfo's probe of this CPU, remembered on disk per CPU.

``cpuinfo.get_cpu_info()`` starts a Python process of its own to probe the CPU, about 1.1 s here, and every
``run``, ``ab`` and ``devices`` paid it before its first cell. What it reports does not change while the CPU does
not, so its answer is kept in the harness's cache (``host/cpuinfo-SIGNATURE.json``), keyed by what
``/proc/cpuinfo`` says of the CPU that never changes while it runs (:func:`cpu_signature`: vendor, family, model,
stepping, microcode, flags, the number of logical CPUs). A VM moved to another CPU, a microcode update or another
core count reads a new signature and probes again. Where there is no ``/proc/cpuinfo`` (not Linux), or the cache
cannot be read or written, it probes every time, as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from genai_harness.cache_home import harness_cache, remembered_json

PROBE_FIELDS = ("brand_raw", "vendor_id_raw", "arch", "bits", "flags")
"""What the machine profile takes of py-cpuinfo's answer (``host.fingerprint``)."""
SIGNATURE_KEYS = frozenset({
    "vendor_id", "cpu family", "model", "model name", "stepping", "microcode", "flags",  # x86
    "CPU implementer", "CPU architecture", "CPU variant", "CPU part", "CPU revision", "Features",  # Arm
})
"""Fields of ``/proc/cpuinfo`` that describe the CPU and never change while it runs (not its clock, not bogomips)."""
PROC_CPUINFO = Path("/proc/cpuinfo")


def cpu_signature(text: str, machine: str) -> str | None:
    """A short hash of the CPU ``/proc/cpuinfo``'s ``text`` describes on a ``machine`` (``platform.machine()``)
    (pure): its :data:`SIGNATURE_KEYS` fields, each distinct line once, and how many logical CPUs it lists. None when
    the text names none of them."""
    described: set[str] = set()
    processors = 0
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        key = key.strip()
        processors += key == "processor"
        if colon and key in SIGNATURE_KEYS:
            described.add(f"{key}:{value.strip()}")
    if not described:
        return None
    summary = json.dumps([machine, processors, sorted(described)])
    return hashlib.sha256(summary.encode()).hexdigest()[:16]


def probe_cpu(machine: str) -> dict[str, Any]:
    """py-cpuinfo's answer (its :data:`PROBE_FIELDS`) for this CPU: remembered where ``/proc/cpuinfo`` gives a
    signature, else probed (see the module docstring)."""
    try:
        signature = cpu_signature(PROC_CPUINFO.read_text(), machine)
    except OSError:
        signature = None
    if signature is None:
        return _probe()
    return remembered_json(harness_cache() / "host" / f"cpuinfo-{signature}.json",
                           lambda kept: isinstance(kept, dict) and set(kept) == set(PROBE_FIELDS), _probe)


def _probe() -> dict[str, Any]:
    """py-cpuinfo's :data:`PROBE_FIELDS`, probed now."""
    import cpuinfo  # py-cpuinfo: a second, probing process (about 1.1 s) only when this CPU was never probed

    info = cpuinfo.get_cpu_info()
    return {field: info.get(field) for field in PROBE_FIELDS}
