"""Peak resident memory of a process: its own (``/proc/self``) and a child's (``wait4``), in MB.

Standard library only: the worker reads its own peak in any environment, the runner a child's.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import resource  # POSIX only: the worker must start where it is missing


def own_peak_rss_mb() -> float | None:
    """This process's own peak resident memory in MB (VmHWM), or None without /proc.

    Linux carries ru_maxrss across exec, so the wait4 figure of a child is at least its parent's peak
    at spawn time; VmHWM counts only the address space of this process since it started.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_own_peak_rss() -> None:
    """Reset this process's VmHWM so the next peak is counted from now (Linux >= 4.0; else a no-op)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def rusage_peak_mb(usage: resource.struct_rusage) -> float:
    """The peak resident memory of an ``os.wait4`` or ``getrusage`` record in MB (ru_maxrss: KiB on Linux,
    bytes on macOS)."""
    scale = 1 / (1024 * 1024) if sys.platform == "darwin" else 1 / 1024
    return usage.ru_maxrss * scale
