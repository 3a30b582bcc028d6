"""The worker: what runs inside a subprocess, in any Python environment.

Usage (by the harness, not by hand): ``python -m genai_harness.worker.main REQUEST.json RESPONSE.json``.
It imports only the standard library, numpy and the runtime a request needs, so it runs in a
bare venv that holds just one runtime (onnxruntime-openvino, say).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genai_harness.errors import HarnessError, WorkerProtocolError

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _inventory(request: dict[str, Any]) -> dict[str, Any]:
    from genai_harness.runner.inventory import local_inventory

    return local_inventory(request.get("environment", "default"))


def _cell(request: dict[str, Any]) -> dict[str, Any]:
    from genai_harness.worker.cell import run_cell

    return run_cell(request)


def _direct(request: dict[str, Any]) -> dict[str, Any]:
    from genai_harness.worker.direct import run_direct

    return run_direct(request)


def _operator_batch(request: dict[str, Any]) -> dict[str, Any]:
    from genai_harness.worker.operator_batch import run_batch

    return run_batch(request)


HANDLERS: dict[str, Handler] = {"inventory": _inventory, "cell": _cell, "direct": _direct,
                                "operator_batch": _operator_batch}


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one request; errors become ``{"error": {...}}``."""
    op = request.get("op")
    try:
        from genai_harness.backends.registry import register_specs

        register_specs(request.get("backend_specs", []))
        if op not in HANDLERS:
            raise WorkerProtocolError(f"unknown worker op {op!r}; known: {', '.join(HANDLERS)}")
        return HANDLERS[op](request)
    except HarnessError as exc:
        return {"error": exc.to_dict()}
    except Exception as exc:
        return {"error": {"type": "HarnessError", "message": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc()[-3000:]}}


PEAK_RSS_KEY = "_worker_peak_rss_mb"


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


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies, so a killed runner leaves no orphan."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    """Entry point: read the request file, write the response file."""
    die_with_parent()
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m genai_harness.worker.main REQUEST.json RESPONSE.json", file=sys.stderr)
        return 2
    request = json.loads(Path(args[0]).read_text())
    response = handle(request)
    # A cell that checked itself against a reference afterwards reports its peak from before that.
    peak = response.pop("peak_rss_mb_before_reference", None) or own_peak_rss_mb()
    if peak is not None:
        response[PEAK_RSS_KEY] = peak
    tmp = Path(args[1] + ".tmp")
    tmp.write_text(json.dumps(response, default=str))
    tmp.replace(args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
