"""Cells run under valgrind's callgrind (``--measure instructions``): the command, its timeout and its failures.

The worker runs as usual, its interpreter started by ``valgrind --tool=callgrind --dump-before=getsid``: every
reading of the cell's clock calls ``getsid`` first, so callgrind dumps the instructions executed since the previous
reading (:mod:`genai_harness.worker.instructions` reads them back). Why callgrind and this marker, not cachegrind:
valgrind 3.19's cachegrind counts a whole process only (its start/stop client requests came in 3.22, and Python
cannot issue client requests anyway); callgrind's dumps split the count at the very points the wall-time metrics
are read, at about 1.5 times cachegrind's cost (benchmarks/instruction_counts.py).

valgrind translates the runtime's machine code; an instruction it does not emulate (AVX-512 and AMX in valgrind
3.19) stops the worker with SIGILL. That cell is recorded as failed with the reason valgrind gave, never with a
count taken on another code path. valgrind reports a CPU without the extensions it lacks, so a runtime that
dispatches on CPUID takes a path valgrind runs: the counts are of that path, which may differ from the one the
same runtime takes outside valgrind on this CPU.
"""

from __future__ import annotations

import platform
import re
import shutil
import tempfile
from pathlib import Path
from typing import TypeVar

from genai_harness.errors import CellError, ConfigurationError, MeasurementError
from genai_harness.runner.environments import Environment
from genai_harness.runner.launcher import WorkerOutcome, call_worker
from genai_harness.worker.instructions import MARKER_FUNCTION, OUT_ENV
from genai_harness.worker.protocol import WorkerReply, WorkerRequest

ReplyT = TypeVar("ReplyT", bound=WorkerReply)

TIMEOUT_FACTOR = 40.0
"""An instruction-mode cell may run this many times its workload's ``timeout_s`` (callgrind runs tiny-llm's
generation about 30 times slower than the bare CPU)."""
_UNHANDLED = re.compile(r"unhandled instruction bytes:\s*((?:0x[0-9A-Fa-f]+\s*){1,8})")


def valgrind_path() -> str:
    """The valgrind executable; its absence is a ConfigurationError naming the fix."""
    found = shutil.which("valgrind")
    if found is None:
        raise ConfigurationError("--measure instructions needs valgrind, which is not on PATH; install it "
                                 "(apt-get install valgrind, brew install valgrind on Linux hosts) or measure time")
    return found


FIXED_ENV = {"PYTHONHASHSEED": "0"}
"""The worker's environment in instruction mode: one string-hash seed, so dicts and sets of every run probe and
iterate alike (Python draws a seed per process otherwise)."""


def fixed_layout() -> list[str]:
    """``setarch ARCH -R`` where it is available: the worker's addresses are not randomized, so tables keyed by
    address (in the runtime and the interpreter) are laid out alike in every run; nothing where it is not."""
    setarch = shutil.which("setarch")
    return [setarch, platform.machine(), "-R"] if setarch else []


def callgrind_command(out_file: Path, log_file: Path) -> list[str]:
    """The prefix that runs a worker under callgrind: a dump before each marker call, nothing but the counts."""
    return [*fixed_layout(), valgrind_path(), "--tool=callgrind", f"--dump-before={MARKER_FUNCTION}", "--dump-line=no",
            "--dump-instr=no", "--collect-jumps=no", "--separate-threads=yes", f"--callgrind-out-file={out_file}",
            f"--log-file={log_file}"]


def unemulated_reason(log_text: str) -> str | None:
    """Why valgrind could not run a worker, from its log: an instruction it does not emulate (pure); else None."""
    found = _UNHANDLED.search(log_text)
    if found is None and "Illegal opcode" not in log_text:
        return None
    where = f" (unhandled instruction bytes {' '.join(found.group(1).split()[:6])})" if found else ""
    return (f"valgrind cannot run this runtime: it executes an instruction valgrind does not emulate{where}; "
            "no instruction count recorded (measure time for this cell)")


def call_counted_worker(environment: Environment, request: WorkerRequest[ReplyT], timeout_s: float,
                        what: str) -> WorkerOutcome[ReplyT]:
    """:func:`~genai_harness.runner.launcher.call_worker` under callgrind; a worker valgrind cannot run raises
    :class:`MeasurementError` with valgrind's reason."""
    with tempfile.TemporaryDirectory(prefix="genai-harness-callgrind-") as tmp:
        folder = Path(tmp)
        out_file, log_file = folder / "callgrind.out", folder / "valgrind.log"
        try:
            return call_worker(environment, request, timeout_s * TIMEOUT_FACTOR, what, folder=folder,
                               prefix=callgrind_command(out_file, log_file),
                               extra_env={**FIXED_ENV, OUT_ENV: str(out_file)})
        except MeasurementError:
            raise
        except CellError as exc:
            reason = unemulated_reason(log_file.read_text(errors="replace") if log_file.exists() else "")
            if reason is None:
                raise
            raise MeasurementError(f"{what}: {reason}") from exc
