"""The machine-speed calibration kernel: a fixed piece of compute timed beside a cell, never inside its calls.

On a shared runner a run is slow because the machine is busy, and every cell of that run is slow with it (issue
23: separate runs of the same build differed 1.6-3x at load 5-24). The kernel measures how fast this machine runs
plain compute at that moment, so ``compare`` can take it out of wall-time comparisons
(:mod:`genai_harness.gate.calibration`). It touches none of the code under test: a slower runtime build, or
``--inject-slowdown``, moves the cell's times and not the kernel's.

The kernel sorts a fixed array of :data:`KERNEL_SIZE` doubles :data:`KERNEL_SORTS` times (single-threaded numpy,
about 10 ms of one core here, 64 KiB of memory so it barely disturbs the caches the measured calls use). It is
timed with its own clock (:func:`time.perf_counter_ns`, not the cell's injected one), :data:`START_TIMINGS` times at
the cell's start (before warm-up) and once before each measured repetition. A busy machine shows in it as
preemptions: most timings run undisturbed and a few take several times as long, so the row's ``calib_ms`` is the
MEAN of the timings (a median would mostly see the undisturbed ones and miss the load).
"""

from __future__ import annotations

import time

import numpy as np

KERNEL_SIZE = 4096
"""Doubles in the kernel's array (32 KiB; its sorted copy another 32 KiB)."""
KERNEL_SORTS = 280
"""Sorts per timing (about 10 ms of one core of this AMD EPYC when undisturbed)."""
START_TIMINGS = 3
"""Timings at the cell's start, before its warm-up calls."""
_SEED = 20261206


class CalibrationKernel:
    """A fixed compute kernel and the wall times of its runs (ms)."""

    def __init__(self) -> None:
        self._array = np.random.default_rng(_SEED).random(KERNEL_SIZE)
        self.timings_ms: list[float] = []

    def time_once(self) -> float:
        """Run the kernel once; record and return its wall time in ms."""
        start = time.perf_counter_ns()
        for _ in range(KERNEL_SORTS):
            np.sort(self._array, kind="quicksort")
        elapsed = (time.perf_counter_ns() - start) / 1e6
        self.timings_ms.append(elapsed)
        return elapsed

    def time_start(self) -> None:
        """The cell-start timings (:data:`START_TIMINGS`)."""
        for _ in range(START_TIMINGS):
            self.time_once()

    @property
    def calib_ms(self) -> float | None:
        """The mean wall time of the kernel's timings so far (None before any)."""
        return float(np.mean(self.timings_ms)) if self.timings_ms else None
