"""The instruction clock's bookkeeping (callgrind dumps -> counts per reading), the per-phase definitions, and the
refusals: a count that cannot be paired, valgrind absent or unable to run a runtime."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from genai_harness.errors import ConfigurationError, MeasurementError
from genai_harness.interface.devices import Device
from genai_harness.runner import valgrind
from genai_harness.runner.benchmark import check_measure
from genai_harness.tasks.instructions import call_counts, image_counts, text_counts
from genai_harness.worker import instructions
from genai_harness.worker.cell import INSTRUCTION_REPETITIONS, run_cell
from genai_harness.worker.instructions import InstructionClock, cumulative_counts, dump_total
from genai_harness.worker.protocol import CellRequest, ModelRef
from genai_harness.workloads.spec import parse_workload


def cell_request(tmp_path: Path, framework: str, task: str, inputs: dict[str, Any],
                 repetitions: int = 3) -> CellRequest:
    """A cell of the fake backend's ``ok`` model, 2 warm-ups."""
    model = tmp_path / "ok"
    model.mkdir(exist_ok=True)
    workload = parse_workload({"id": "w", "version": 1, "task": task, "input": inputs,
                               "run": {"warmup": 2, "repetitions": repetitions}}, "inline")
    return CellRequest(framework, Device("CPU", framework=framework), workload, ModelRef(str(model), "m", "fake"))


def _dump(path: Path, total: int) -> None:
    path.write_text(f"# callgrind format\nversion: 1\npart: 1\n\nevents: Ir\nsummary: {total}\n\nfn=(1) x\n0 {total}\n"
                    f"totals: {total}\n")


def test_counts_are_running_sums_of_the_dumps(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.out"
    for index, total in enumerate((500, 20, 7, 1000), start=1):
        _dump(Path(f"{out}.{index}-01"), total)
    _dump(Path(f"{out}-01"), 99)  # the dump at exit is not a reading's
    _dump(Path(f"{out}.2-02"), 5000)  # nor another thread's
    assert cumulative_counts(out, 4) == [500, 520, 527, 1527]
    assert dump_total(Path(f"{out}.2-01")) == 20


def test_dumps_that_do_not_pair_with_the_readings_give_no_count(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.out"
    for index in (1, 2, 3):
        _dump(Path(f"{out}.{index}-01"), 10)
    with pytest.raises(MeasurementError, match="3 dumps for 2 clock readings"):
        cumulative_counts(out, 2)
    Path(f"{out}.4-01").write_text("events: Ir\n")
    with pytest.raises(MeasurementError, match="no summary line"):
        cumulative_counts(out, 4)


def test_the_clock_is_strictly_increasing_and_maps_readings_to_counts(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.out"
    clock = InstructionClock(out)
    readings = [clock() for _ in range(3)]  # outside valgrind os.getsid is just a call
    assert readings == sorted(set(readings))
    for index, total in enumerate((100, 30, 5), start=1):
        _dump(Path(f"{out}.{index}-01"), total)
    assert clock.counter() == dict(zip(readings, [100, 130, 135], strict=True))


def test_phase_definitions_match_the_time_metrics() -> None:
    count = {0: 0, 10: 1000, 20: 1500, 30: 2000, 40: 2500, 50: 2600}.__getitem__
    text = text_counts({"start": 0, "tokens": [10, 20, 30, 40], "end": 50}, count)
    assert text == {"instructions_call": 2600.0, "instructions_prefill": 1000.0, "instructions_per_token": 500.0}
    one = text_counts({"start": 0, "tokens": [10], "end": 50}, count)
    assert one["instructions_per_token"] is None
    image = image_counts({"start": 0, "steps": [10, 20, 40], "end": 50}, count)
    assert image == {"instructions_call": 2600.0, "instructions_per_step": 750.0}
    assert call_counts({"start": 10, "end": 30}, count) == {"instructions_call": 1000.0}


def test_valgrind_that_cannot_run_a_runtime_is_a_reason_not_a_count() -> None:
    log = ("==1== vex amd64->IR: unhandled instruction bytes: 0x62 0xF1 0x7C 0x48 0x10 0x4\n"
           "==1== Process terminating with default action of signal 4 (SIGILL)\n")
    reason = valgrind.unemulated_reason(log)
    assert reason is not None and "does not emulate" in reason and "0x62 0xF1" in reason
    assert valgrind.unemulated_reason("==1== ERROR SUMMARY: 0 errors\n") is None


def test_measure_options_are_checked_before_any_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_measure("time", 4) == 4
    with pytest.raises(ConfigurationError, match="--measure must be one of time, instructions"):
        check_measure("cycles", None)
    with pytest.raises(ConfigurationError, match="one compute thread; drop --threads 4"):
        check_measure("instructions", 4)
    monkeypatch.setattr(valgrind.shutil, "which", lambda name: None)
    with pytest.raises(ConfigurationError, match="needs valgrind"):
        check_measure("instructions", None)


def test_a_cell_counts_each_phase_between_its_clock_readings(tmp_path: Path, fake_backend: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process, with callgrind's dumps stood in for (each reading 1000 instructions after the one before): the
    cell maps every phase to the readings that bound it, as the time metrics do, and refuses without valgrind."""
    request = cell_request(tmp_path, fake_backend, "text2text", {"prompt_tokens": 20, "new_tokens": 5},
                           repetitions=10)
    counted = dataclasses.replace(request, measure="instructions")
    with pytest.raises(MeasurementError, match="not started under valgrind"):
        run_cell(counted)
    monkeypatch.setenv(instructions.OUT_ENV, str(tmp_path / "callgrind.out"))
    monkeypatch.setattr(instructions, "cumulative_counts", lambda out, n: [1000 * (k + 1) for k in range(n)])
    reply = run_cell(counted)
    assert len(reply.repetitions) == INSTRUCTION_REPETITIONS
    for rep in reply.repetitions:
        assert rep["instructions_load"] == 1000 and rep["instructions_prefill"] == 1000
        assert rep["instructions_per_token"] == 1000 and rep["instructions_call"] == 6000  # start, 5 tokens, end
        assert "stamps" not in rep
    image = dataclasses.replace(cell_request(tmp_path, fake_backend, "text2image",
                                             {"width": 16, "height": 8, "steps": 4}, 2), measure="instructions")
    for rep in run_cell(image).repetitions:
        assert rep["instructions_per_step"] == 1000 and rep["instructions_call"] == 5000
    assert "stamps" not in run_cell(request).repetitions[0]  # time mode drops the readings too
