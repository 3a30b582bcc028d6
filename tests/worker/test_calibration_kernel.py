"""The machine-speed calibration kernel (worker.calibration): timed beside a cell's calls, never with its clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_harness.clock import FakeClock
from genai_harness.interface import Device
from genai_harness.worker.calibration import START_TIMINGS, CalibrationKernel
from genai_harness.worker.cell import run_cell
from genai_harness.worker.protocol import CellRequest, ModelRef
from genai_harness.workloads.spec import parse_workload

MS = 1_000_000


def test_the_kernel_records_the_mean_of_its_timings() -> None:
    kernel = CalibrationKernel()
    assert kernel.calib_ms is None
    kernel.time_start()
    kernel.time_once()
    assert len(kernel.timings_ms) == START_TIMINGS + 1 and all(t > 0 for t in kernel.timings_ms)
    assert kernel.calib_ms == pytest.approx(sum(kernel.timings_ms) / len(kernel.timings_ms))


def test_every_row_of_a_cell_carries_one_kernel_value_and_the_cell_clock_is_untouched(tmp_path: Path,
                                                                                       fake_backend: str) -> None:
    model = tmp_path / "ok"
    model.mkdir()
    workload = parse_workload({"id": "w", "version": 1, "task": "text2text",
                               "input": {"prompt_tokens": 20, "new_tokens": 5},
                               "run": {"warmup": 2, "repetitions": 4}}, "inline")
    device = Device("CPU", framework=fake_backend)
    request = CellRequest(fake_backend, device, workload, ModelRef(str(model), "m", "fake"))
    clock = FakeClock(step_ns=MS)
    reply = run_cell(request, clock=clock)
    values = {rep["calib_ms"] for rep in reply.repetitions}
    assert len(reply.repetitions) == 4 and len(values) == 1 and next(iter(values)) > 0
    # the kernel reads its own clock: the cell's clock gave only its own readings (1 ms each), none to the kernel
    assert all(rep["ttft_ms"] == pytest.approx(1.0) for rep in reply.repetitions)
