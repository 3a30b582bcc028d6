"""A long-lived ``ab`` worker (``runner.round_worker``) runs only for its own rounds: paused between them."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from support import FakeWorkspace

from genai_harness.runner.prepare import Selection, prepare_run
from genai_harness.runner.round_worker import RoundWorker

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads process states from /proc")


def process_state(pid: int) -> str:
    """The one-letter state of process ``pid`` (``T``: stopped) from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


def state_becomes(pid: int, wanted: str, within_s: float = 30.0) -> str:
    """Wait until ``pid`` is in state ``wanted`` (a signal takes effect asynchronously); its last state seen."""
    deadline = time.monotonic() + within_s
    state = process_state(pid)
    while state != wanted and time.monotonic() < deadline:
        time.sleep(0.01)
        state = process_state(pid)
    return state


def test_a_session_worker_is_paused_between_its_rounds_and_still_answers_its_stop(tmp_path: Path,
                                                                                fake_backend: str) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("gen", repetitions=2)
    suite = ws.suite("one", [("gen", ["fake-ok"])])
    prepared = prepare_run(suite, Selection([fake_backend], ["CPU"]), config=ws.config, store=tmp_path / "s.sqlite")
    (cell,) = prepared.plan.cells
    with RoundWorker(cell) as worker:
        pid = worker.worker.proc.pid
        worker.wait_ready()
        # loaded, it waits for its first round stopped: it cannot spin on the core its partner loads or measures on
        assert state_becomes(pid, "T") == "T"
        for index in range(2):
            outcome = worker.measure(index)  # resumed for the round, or it would never answer
            assert len(outcome.reply.repetitions) == 2 and state_becomes(pid, "T") == "T"
    # leaving resumed it to read its stop: it ended by itself (exit 0), not killed after waiting paused
    assert worker.worker.proc.returncode == 0
