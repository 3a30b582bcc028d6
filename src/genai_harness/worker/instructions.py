"""The worker's side of ``--measure instructions``: a clock whose every reading is also a callgrind dump.

The parent starts the worker under ``valgrind --tool=callgrind --dump-before=getsid`` (:mod:`genai_harness.runner.
valgrind`), with :data:`OUT_ENV` naming callgrind's output file. :class:`InstructionClock` is the cell's clock: each
reading first calls ``getsid`` (the marker: callgrind writes the instructions executed since the previous marker to
``OUT.N`` and zeroes its counter, the simulation pausing, so the dump costs no counted instruction), then reads
``perf_counter_ns``. After the cell, :meth:`InstructionClock.counter` reads the dumps' totals once and maps each
reading to the instructions executed by then; a task turns a call's readings into the ``instructions_*`` columns
(:mod:`genai_harness.tasks.instructions`). Python cannot issue valgrind's client requests, and callgrind_control
from the worker would cost a process start per phase; a marker function needs neither.

Only the main thread is counted (callgrind ``--separate-threads=yes``): with one compute thread the compute runs
there, while a runtime's background threads (telemetry, timers) do work that follows the wall clock: counting
them made a call's count vary by up to 7 % between runs (benchmarks/RESULTS.md, "Instruction counts").

A count is refused, never guessed: when the dumps do not match the readings one to one (something else called
``getsid``; a dump missing), :class:`~genai_harness.errors.MeasurementError` says so.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from genai_harness.errors import MeasurementError

OUT_ENV = "GENAI_HARNESS_CALLGRIND_OUT"
"""Environment variable: callgrind's ``--callgrind-out-file`` (set by the parent in instruction mode)."""
MARKER_FUNCTION = "getsid"
"""The C function whose every call callgrind dumps before (``os.getsid``; nothing on a runtime's path calls it)."""
MAIN_THREAD = "01"
"""callgrind's number of the worker's main thread, where the cell runs and every clock reading is taken."""
_SUMMARY = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.MULTILINE)
_HEADER_BYTES = 4096
"""callgrind writes ``summary:`` in a dump's header, within its first lines."""


def dump_total(path: Path) -> int:
    """The instructions one callgrind dump holds (its ``summary:`` line); a dump without one is refused."""
    with open(path, "rb") as handle:
        head = handle.read(_HEADER_BYTES)
    found = _SUMMARY.search(head)
    if found is None:
        raise MeasurementError(f"callgrind dump {path.name} has no summary line; no instruction count recorded")
    return int(found.group(1))


def dump_path(out_file: Path, index: int) -> Path:
    """Dump ``index`` of the main thread (callgrind runs with ``--separate-threads=yes``: ``OUT.N-01``)."""
    return out_file.parent / f"{out_file.name}.{index}-{MAIN_THREAD}"


def cumulative_counts(out_file: Path, readings: int) -> list[int]:
    """Instructions the main thread executed up to each of ``readings`` markers: the running sum of its dumps
    ``OUT.1-01`` .. ``OUT.N-01``.

    Dump ``k`` holds what ran between markers ``k-1`` and ``k``; anything but exactly ``readings`` dumps means the
    markers and the dumps do not pair, and no count is given."""
    pattern = re.compile(rf"^{re.escape(out_file.name)}\.(\d+)-{MAIN_THREAD}$")
    found = sorted(int(m.group(1)) for p in out_file.parent.iterdir() if (m := pattern.match(p.name)))
    if found != list(range(1, readings + 1)):
        raise MeasurementError(f"callgrind wrote {len(found)} dumps for {readings} clock readings (something besides "
                               f"the harness called {MARKER_FUNCTION}, or a dump is missing); no instruction count "
                               "recorded")
    totals, running = [], 0
    for index in found:
        running += dump_total(dump_path(out_file, index))
        totals.append(running)
    return totals


class InstructionClock:
    """The cell's clock in instruction mode: nanoseconds like :func:`time.perf_counter_ns` (strictly increasing, so
    each reading names itself), each reading also a callgrind dump."""

    def __init__(self, out_file: Path) -> None:
        self.out_file = out_file
        self.readings: list[int] = []

    def __call__(self) -> int:
        os.getsid(0)  # the marker: callgrind dumps the count before this call
        now = time.perf_counter_ns()
        if self.readings and now <= self.readings[-1]:
            now = self.readings[-1] + 1
        self.readings.append(now)
        return now

    def counter(self) -> dict[int, int]:
        """Each reading so far -> the instructions the process had executed when it was taken."""
        return dict(zip(self.readings, cumulative_counts(self.out_file, len(self.readings)), strict=True))


def clock_from_environment() -> InstructionClock | None:
    """The instruction clock when the parent started this worker under callgrind (:data:`OUT_ENV` set), else None."""
    out = os.environ.get(OUT_ENV)
    return InstructionClock(Path(out)) if out else None
