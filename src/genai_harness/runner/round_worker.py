"""A worker that stays alive for several ``ab`` rounds of one cell (the parent's side of op ``cell_rounds``).

:class:`RoundWorker` starts ``python -m genai_harness.worker`` on a
:class:`~genai_harness.worker.protocol.CellRoundsRequest`; the worker loads the cell's model once, then
:meth:`RoundWorker.measure` sends it one :class:`~genai_harness.worker.protocol.RoundCommand` and waits (with the
workload's timeout) for its :class:`~genai_harness.worker.protocol.RoundDone` journal line. A worker that dies, or
a round that fails or runs past its timeout, raises as a one-call worker would (CellError, CellTimeoutError or
the error the worker reported); the worker is then killed and ``ab`` starts a fresh one for the next round.

Between its load and its rounds, and between one round and its next, the worker is paused (SIGSTOP on its process
group, SIGCONT before its next command): a runtime's thread pool spins for a while after each parallel section
(onnxruntime's by default), and on a machine of few cores the idle worker of a session would spin on the core its
partner measures on. Paused, the two workers of a session never run at once, as two one-call workers never do.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from pathlib import Path
from types import TracebackType

from genai_harness.errors import CellError, CellTimeoutError, WorkerProtocolError, error_from_dict
from genai_harness.runner.cell_loop import cell_request
from genai_harness.runner.launcher import WorkerOutcome, WorkerProcess, describe_exit, last_line
from genai_harness.runner.plan import Cell
from genai_harness.worker.protocol import (
    CellReply,
    CellRoundsReply,
    CellRoundsRequest,
    ErrorReply,
    RoundCommand,
    RoundDone,
    StopCommand,
    WorkerReady,
    journal_line,
)

POLL_S = 0.005
"""How often the parent looks for a round's journal line (a round of tiny-llm takes about 0.1 s)."""


class RoundWorker:
    """One worker process serving rounds of ``cell``; a context manager (leaving it stops and reaps the worker)."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self._stack = contextlib.ExitStack()
        folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="genai-harness-rounds-")))
        self.journal = folder / "journal.jsonl"
        self.journal.touch()
        self._read = 0
        request = CellRoundsRequest(cell_request(cell), str(self.journal))
        self.started = time.perf_counter()
        self.rounds = 0
        try:
            self.worker = WorkerProcess(cell.environment.python, request, folder, commands=True)
        except OSError as exc:
            self._stack.close()
            raise CellError(f"cell {cell.label}: cannot start {cell.environment.python}: {exc}") from exc
        self._stack.callback(self.worker.stop)
        self.ready_s = math.nan
        """Seconds from the start to the model loaded (process start, imports, load)."""

    def wait_ready(self) -> None:
        """Wait until the worker has loaded the model (the workload's timeout; it raises as :meth:`measure`)."""
        entry = self._wait(f"cell {self.cell.label}", "loading")
        if not isinstance(entry, WorkerReady):
            raise WorkerProtocolError(f"cell {self.cell.label}: the rounds worker answered a round before it loaded")
        self.ready_s = time.perf_counter() - self.started
        self.worker.pause()

    def __enter__(self) -> RoundWorker:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Ask the worker to stop, give it a moment to exit, then kill and reap it whatever it does."""
        if self.worker.poll() is None:
            self.worker.resume()
            with contextlib.suppress(BrokenPipeError, OSError):
                self.worker.send(StopCommand().to_line())
            self.worker.end_commands()
            with contextlib.suppress(Exception):
                self.worker.proc.wait(timeout=5)
        self._stack.close()

    def _next_line(self) -> str | None:
        with open(self.journal) as fh:
            fh.seek(self._read)
            line = fh.readline()
            if not line.endswith("\n"):
                return None
            self._read = fh.tell()
            return line

    def measure(self, round_index: int) -> WorkerOutcome[CellReply]:
        """Measure one round in this worker (loaded: :meth:`wait_ready`): its :class:`CellReply` (load time: the
        worker's one load) and the round's wall time. The worker runs only for its round (module docstring)."""
        what = f"cell {self.cell.label}"
        self.worker.resume()
        start = time.perf_counter()
        with contextlib.suppress(BrokenPipeError, OSError):  # it died already: the wait below reads why
            self.worker.send(RoundCommand(round_index).to_line())
        done = self._wait(what, f"round {round_index}")
        self.worker.pause()
        if not isinstance(done, RoundDone) or done.round != round_index:
            raise WorkerProtocolError(f"{what}: asked for round {round_index}, the worker answered {done}")
        if done.reply is None:
            raise error_from_dict({"type": done.error_type or "CellError", "message": done.error or "round failed"})
        self.rounds += 1
        peak = done.reply.peak_rss_mb if done.reply.peak_rss_mb is not None else float("nan")
        return WorkerOutcome(done.reply, 0, peak, time.perf_counter() - start, "")

    def _wait(self, what: str, doing: str) -> WorkerReady | RoundDone:
        """The worker's next journal entry, waiting up to the workload's timeout; a worker that dies or runs past
        it raises (CellError, CellTimeoutError, or the error it reported before its first round)."""
        deadline = time.monotonic() + self.cell.workload.timeout_s
        while True:
            line = self._next_line()
            if line is not None:
                break
            if self.worker.poll() is not None:
                line = self._next_line()
                if line is not None:
                    break
                raise self._died(what)
            if time.monotonic() >= deadline:
                self.worker.kill()
                raise CellTimeoutError(f"{what} in environment {self.cell.environment.name!r} ran past its "
                                       f"{self.cell.workload.timeout_s:g} s timeout ({doing})")
            time.sleep(POLL_S)
        try:
            return journal_line(json.loads(line))
        except json.JSONDecodeError as exc:
            raise WorkerProtocolError(f"{what}: the rounds worker wrote an unreadable journal line ({exc})") from exc

    def _died(self, what: str) -> Exception:
        stderr = self.worker.stderr_text()[-4000:]
        with contextlib.suppress(WorkerProtocolError):
            reply = self.worker.read_reply(CellRoundsReply)
            if isinstance(reply, ErrorReply):
                return reply.to_exception()  # it failed before its first round (the model would not load ...)
        return CellError(f"{what} in environment {self.cell.environment.name!r} died: "
                         f"{describe_exit(self.worker.poll() or 0)}{last_line(stderr)}")
