"""Start worker processes and read their answers: every worker process of the harness is started here.

A worker is ``python -m genai_harness.worker REQUEST.json RESPONSE.json`` under the interpreter of an environment,
in a session of its own (so its whole process group can be killed) and set to die with its parent. The parent
sends a JSON request file and reads a JSON response file (never stdout, which native runtimes may write to), both
in the shapes of :mod:`genai_harness.worker.protocol`. :func:`call_worker` runs one request to its end and waits
with ``os.wait4``, so the operating system's own accounting of the child (peak resident memory) comes back with
the answer; an operator batch (:mod:`genai_harness.runner.operator_loop`) follows its :class:`WorkerProcess` as
it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

from genai_harness.backends.registry import specs_for_worker
from genai_harness.errors import CellError, CellTimeoutError, WorkerProtocolError
from genai_harness.host.memory import rusage_peak_mb
from genai_harness.runner.environments import Environment
from genai_harness.worker.protocol import ErrorReply, WorkerReply, WorkerRequest, decode_reply, encode_request

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The folder that holds the ``genai_harness`` package (put on the worker's PYTHONPATH)."""
WORKER_MODULE = "genai_harness.worker"
"""What a worker process runs (``python -m``)."""

EXIT_POLL_S = 0.02
"""Where the OS gives no exit descriptor (pidfd), how long a wait for a worker's exit sleeps between looks."""

ReplyT = TypeVar("ReplyT", bound=WorkerReply)


@dataclass
class WorkerOutcome(Generic[ReplyT]):
    """What a worker process returned and what the OS measured of it."""

    reply: ReplyT
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


class WorkerProcess:
    """One worker process started on ``request`` under ``python``; its request, response and stderr files lie in
    ``folder`` (``request{suffix}.json``, ``response{suffix}.json``, ``stderr{suffix}``).

    With ``commands`` its standard input is a pipe the parent writes typed command lines to (:meth:`send`; a
    rounds worker, :mod:`genai_harness.worker.protocol.rounds`). Used as a context manager: leaving it, normally,
    on Ctrl-C or on any failure, kills the worker's whole process
    group and reaps it, so no worker is ever left running. Raises OSError when the interpreter cannot start.
    """

    def __init__(self, python: Path, request: WorkerRequest[Any], folder: Path, suffix: str = "",
                 prefix: Sequence[str] = (), extra_env: Mapping[str, str] | None = None,
                 commands: bool = False) -> None:
        self.request_path = folder / f"request{suffix}.json"
        self.response_path = folder / f"response{suffix}.json"
        self.stderr_path = folder / f"stderr{suffix}"
        self.request_path.write_text(json.dumps(encode_request(request, specs_for_worker())))
        command = [*prefix, str(python), "-m", WORKER_MODULE, str(self.request_path), str(self.response_path)]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE if commands else subprocess.DEVNULL,
                                         stdout=err, stderr=err, text=commands or None,
                                         env={**worker_env(), **(extra_env or {})}, start_new_session=True)
        self._exit_fd = _open_pidfd(self.proc.pid)

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def send(self, line: str) -> None:
        """Write one command line to the worker's standard input; a worker that has gone raises BrokenPipeError."""
        if self.proc.stdin is None:
            raise BrokenPipeError("this worker takes no commands")
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def end_commands(self) -> None:
        """Close the worker's standard input (a rounds worker then answers and exits)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.proc.stdin.close()

    def poll(self) -> int | None:
        """The worker's exit status once it has ended (reaped), else None."""
        return self.proc.poll()

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (a group already gone is no error)."""
        self._signal(signal.SIGKILL)

    def pause(self) -> None:
        """Stop the worker's whole process group (SIGSTOP): none of its threads runs until :meth:`resume`, so a
        worker that waits for its next command cannot spin on a core another worker is measuring on."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused worker's process group run again (SIGCONT; a worker never paused is no error)."""
        self._signal(signal.SIGCONT)

    def _signal(self, number: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, number)

    def stop(self) -> None:
        """Kill the worker's process group and reap the worker."""
        self.kill()
        self.end_commands()
        self.proc.wait()
        if self._exit_fd is not None:
            os.close(self._exit_fd)
            self._exit_fd = None

    def wait(self, timeout_s: float) -> tuple[int, float, bool]:
        """Wait for the worker with a deadline (killing it there): (exit status, peak RSS in MB, timed out)."""
        deadline = time.monotonic() + timeout_s
        timed_out = False
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() >= deadline:
                timed_out = True
                self.kill()
                pid, status, usage = os.wait4(self.proc.pid, 0)
                break
            self._sleep_until_exit(max(0.0, deadline - time.monotonic()))
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.proc.returncode, rusage_peak_mb(usage), timed_out

    def _sleep_until_exit(self, seconds: float) -> None:
        """Sleep until the worker exits or ``seconds`` pass, whichever comes first (without a pidfd: at most
        :data:`EXIT_POLL_S`, then the caller looks again)."""
        if self._exit_fd is None:
            time.sleep(min(seconds, EXIT_POLL_S))
        else:
            select.select([self._exit_fd], [], [], seconds)

    def stderr_text(self) -> str:
        """Everything the worker wrote to stdout and stderr."""
        return self.stderr_path.read_text(errors="replace")

    def read_reply(self, reply_type: type[ReplyT]) -> ReplyT | ErrorReply | None:
        """The worker's reply (an :class:`ErrorReply` for an error it reported), None when it wrote none; a
        response that is not JSON or not a reply of ``reply_type`` raises WorkerProtocolError."""
        if not self.response_path.exists():
            return None
        try:
            data = json.loads(self.response_path.read_text())
        except json.JSONDecodeError as exc:
            raise WorkerProtocolError(f"worker wrote an unreadable response ({exc})") from exc
        return decode_reply(data, reply_type)


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when process ``pid`` exits (Linux 5.3+), else None (then polled)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def call_worker(environment: Environment, request: WorkerRequest[ReplyT], timeout_s: float = 300.0,
                what: str = "worker", *, folder: Path | None = None, prefix: Sequence[str] = (),
                extra_env: Mapping[str, str] | None = None) -> WorkerOutcome[ReplyT]:
    """Run one worker request in ``environment``; raise :class:`CellError` if it dies or times out.

    An error the worker reports on purpose (a HarnessError) is re-raised as its own type. ``prefix`` runs the
    interpreter under another program (valgrind: :mod:`genai_harness.runner.valgrind`), with ``extra_env`` added
    to the worker's environment and its files in ``folder`` (a fresh temporary folder by default).
    """
    with contextlib.ExitStack() as stack:
        tmp = folder or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="genai-harness-")))
        start = time.perf_counter()
        try:
            worker = WorkerProcess(environment.python, request, Path(tmp), prefix=prefix, extra_env=extra_env)
        except OSError as exc:
            raise CellError(f"{what}: cannot start {environment.python}: {exc}") from exc
        with worker:
            returncode, peak_rss_mb, timed_out = worker.wait(timeout_s)
        wall_s = time.perf_counter() - start
        stderr_tail = worker.stderr_text()[-4000:]
        if timed_out:
            raise CellTimeoutError(f"{what} in environment {environment.name!r} ran past its {timeout_s:g} s timeout")
        reply = worker.read_reply(request.reply_type())
        if reply is None:
            raise CellError(f"{what} in environment {environment.name!r} died: {describe_exit(returncode)}"
                            f"{last_line(stderr_tail)}")
        if reply.peak_rss_mb is not None:
            peak_rss_mb = reply.peak_rss_mb  # the worker's own; wait4's includes the parent's peak (Linux)
        if isinstance(reply, ErrorReply):
            raise reply.to_exception()
        return WorkerOutcome(reply, returncode, peak_rss_mb, wall_s, stderr_tail)


def describe_exit(returncode: int) -> str:
    """``exit code 3`` or ``killed by SIGSEGV``."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def last_line(text: str) -> str:
    """`` (the last non-blank line of text)``, at most 300 characters of it, or "" when there is none."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return f" ({lines[-1].strip()[:300]})" if lines else ""
