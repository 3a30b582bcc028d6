"""A pipeline's load is timed twice over one span: by the wall clock (``load_s``) and by the process's CPU clock
(``load_cpu_s``), each injected; a load under valgrind has no CPU time (its clock counts instructions)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from genai_harness.clock import FakeClock
from genai_harness.interface.devices import Device
from genai_harness.worker.load import LoadTime, load_pipeline


class Building:
    """A backend whose pipeline is built between two readings of each clock."""

    def __init__(self) -> None:
        self.imported = False

    def import_runtime(self) -> None:
        self.imported = True

    def create_pipeline(self, task: str, model_path: Path, device: Device) -> Any:
        return SimpleNamespace()


def test_a_load_is_timed_by_the_wall_clock_and_by_the_cpu_clock() -> None:
    backend, wall = Building(), FakeClock(step_ns=50_000_000)
    pipeline, took = load_pipeline(backend, "text2text", Path("m"), Device("CPU", {}), wall,
                                   FakeClock(step_ns=20_000_000))
    assert backend.imported and took == LoadTime(0.05, 0.02)  # waited 30 ms of its 50 for a core
    assert pipeline.clock is wall  # the pipeline's spans are timed by the same wall clock, never the CPU one


def test_a_load_without_a_cpu_clock_records_none_never_a_guess() -> None:
    _pipeline, took = load_pipeline(Building(), "text2text", Path("m"), Device("CPU", {}), FakeClock(), None)
    assert took.cpu_s is None and took.wall_s == 0.001
