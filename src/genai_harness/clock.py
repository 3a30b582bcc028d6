"""The one clock every backend is timed with (injectable, so tests can fake it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

Clock = Callable[[], int]
"""A monotonic clock returning nanoseconds, like :func:`time.perf_counter_ns`."""

default_clock: Clock = time.perf_counter_ns
default_cpu_clock: Clock = time.thread_time_ns
"""The CPU time of the calling thread, user and system (ns): what a span cost that thread in work, not in waiting. The
thread's, not the process's: other threads of a worker (a math library's pool spinning after an earlier call) burn a
spare core when there is one, which made the process's CPU time over a load vary with the machine's load
(benchmarks/RESULTS.md, "ab under load: the load's CPU time")."""


class FakeClock:
    """A deterministic clock for tests: each call advances by ``step_ns`` or the next scripted step."""

    def __init__(self, step_ns: int = 1_000_000, steps: Iterable[int] | None = None, start_ns: int = 0):
        self.now_ns = start_ns
        self.step_ns = step_ns
        self._steps: Iterator[int] | None = iter(steps) if steps is not None else None

    def __call__(self) -> int:
        value = self.now_ns
        step = next(self._steps, self.step_ns) if self._steps is not None else self.step_ns
        self.now_ns += step
        return value
