"""Run the worker in a subprocess of a given environment and read its answer.

The parent sends a JSON request file and reads a JSON response file (never stdout, which native
runtimes may write to). It waits with ``os.wait4`` so the operating system's own accounting of
the child (peak resident memory, CPU time) comes back with the answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_harness.backends.registry import specs_for_worker
from genai_harness.errors import CellError, CellTimeoutError, WorkerProtocolError, error_from_dict
from genai_harness.runner.environments import Environment
from genai_harness.worker.main import PEAK_RSS_KEY

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The folder that holds the ``genai_harness`` package (put on the worker's PYTHONPATH)."""


@dataclass
class WorkerOutcome:
    """What a worker process returned and what the OS measured of it."""

    response: dict[str, Any]
    returncode: int
    peak_rss_mb: float
    wall_s: float
    stderr_tail: str


def worker_env() -> dict[str, str]:
    """The child's environment: this package importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, float, bool]:
    """Wait for ``proc`` with a deadline; return (returncode, peak RSS in MB, timed out)."""
    deadline = time.monotonic() + timeout_s
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() >= deadline:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 / (1024 * 1024) if sys.platform == "darwin" else 1 / 1024
    return proc.returncode, usage.ru_maxrss * scale, timed_out


def call_worker(environment: Environment, request: dict[str, Any], timeout_s: float = 300.0,
                what: str = "worker") -> WorkerOutcome:
    """Run one worker request in ``environment``; raise :class:`CellError` if it dies or times out.

    An error the worker reports on purpose (a HarnessError) is re-raised as its own type.
    """
    with tempfile.TemporaryDirectory(prefix="genai-harness-") as tmp:
        req_path, resp_path, err_path = Path(tmp, "request.json"), Path(tmp, "response.json"), Path(tmp, "stderr")
        req_path.write_text(json.dumps({**request, "backend_specs": specs_for_worker()}))
        cmd = [str(environment.python), "-m", "genai_harness.worker.main", str(req_path), str(resp_path)]
        start = time.perf_counter()
        with open(err_path, "wb") as err:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                        env=worker_env(), start_new_session=True)
            except OSError as exc:
                raise CellError(f"{what}: cannot start {environment.python}: {exc}") from exc
            try:
                returncode, peak_rss_mb, timed_out = _wait(proc, timeout_s)
            except BaseException:
                # Ctrl-C or any failure in the parent: never leave the child running.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        wall_s = time.perf_counter() - start
        stderr_tail = err_path.read_text(errors="replace")[-4000:]
        if timed_out:
            raise CellTimeoutError(f"{what} in environment {environment.name!r} ran past its {timeout_s:g} s timeout")
        response = _read_response(resp_path)
        own_peak = response.pop(PEAK_RSS_KEY, None) if response is not None else None
        if isinstance(own_peak, (int, float)):
            peak_rss_mb = float(own_peak)  # the worker's own; wait4's includes the parent's peak (Linux)
        if response is None:
            raise CellError(f"{what} in environment {environment.name!r} died: {describe_exit(returncode)}"
                            f"{_last_line(stderr_tail)}")
        if response.get("error"):
            raise error_from_dict(response["error"])
        return WorkerOutcome(response, returncode, peak_rss_mb, wall_s, stderr_tail)


def _read_response(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise WorkerProtocolError(f"worker wrote an unreadable response ({exc})") from exc
    if not isinstance(data, dict):
        raise WorkerProtocolError("worker response is not a JSON object")
    return data


def describe_exit(returncode: int) -> str:
    """``exit code 3`` or ``killed by SIGSEGV``."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return f" ({lines[-1].strip()[:300]})" if lines else ""
