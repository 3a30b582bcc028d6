"""Faults of a run (issue 14): SIGTERM/SIGHUP like Ctrl-C, runs cut short shown as unfinished, a store that
cannot take a row refused before any cell. Real worker subprocesses and a real SQLite store; only the runtime
is the deterministic fake backend."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from support import FakeWorkspace, clean_env, fake_cli_code, run_fake_cli
from support.processes import alive, hanging, kill_quietly, store_rows, wait_for, workers_of

from genai_harness.errors import StoreError
from genai_harness.results.store import ResultStore
from genai_harness.results.stores import sqlite as store_module
from genai_harness.runner import cell_loop as runner


def _hanging_suite(ws: FakeWorkspace) -> Path:
    ws.workload("c1")
    ws.workload("chang", timeout_s=60)
    ws.workload("c3")
    return ws.suite("cut", [("c1", ["fake-ok"]), ("chang", ["fake-hang"]), ("c3", ["fake-ok"])])


def _start(code: str, cwd: Path, log: Path, tmpdir: Path) -> subprocess.Popen[str]:
    tmpdir.mkdir(exist_ok=True)
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=clean_env(TMPDIR=str(tmpdir)),
                                stdout=subprocess.PIPE, stderr=err, text=True)


def _start_hanging_run(tmp_path: Path, ws: FakeWorkspace) -> tuple[subprocess.Popen[str], Path, Path, Path]:
    """A real fake-backend run whose second cell hangs: (runner process, store, progress log, its TMPDIR)."""
    suite = _hanging_suite(ws)
    store, log, tmpdir = tmp_path / "store.sqlite", tmp_path / "progress.log", tmp_path / "tmp"
    code = fake_cli_code("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--store", store)
    return _start(code, tmp_path, log, tmpdir), store, log, tmpdir


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_end_a_run_like_ctrl_c(tmp_path: Path, signum: int, exit_code: int) -> None:
    runner_proc, store, log, tmpdir = _start_hanging_run(tmp_path, FakeWorkspace(tmp_path))
    workers: list[psutil.Process] = []
    try:
        wait_for(lambda: "[2/3] fake CPU | chang" in log.read_text() or runner_proc.poll() is not None,
                 what="the hanging cell to start")
        assert runner_proc.poll() is None, log.read_text()
        workers = wait_for(lambda: workers_of(runner_proc.pid), what="the hanging cell's worker")
        wait_for(lambda: hanging(workers), what="the worker to reach the hang")
        assert any(tmpdir.glob("genai-harness-*")), "the cell's temporary folder should exist while it runs"
        runner_proc.send_signal(signum)
        stdout, _ = runner_proc.communicate(timeout=30)
        wait_for(lambda: not any(map(alive, workers)), timeout=10, what="the hung worker to be gone")
    finally:
        runner_proc.kill()
        kill_quietly(workers)
    progress = log.read_text()
    name = signal.Signals(signum).name
    assert runner_proc.returncode == exit_code, progress
    assert progress.rstrip().splitlines()[-1] == f"genai-harness: interrupted by {name}", progress
    assert "Traceback" not in progress and stdout == ""
    assert not list(tmpdir.glob("genai-harness-*")), "the interrupted cell's temporary folder was left behind"
    frame = store_rows(store)
    assert frame["status"].tolist() == ["ok", "ok", "interrupted"]
    assert frame.iloc[-1]["error"] == f"interrupted by {name}"

    run_id = frame["run_id"].iloc[0]
    assert ResultStore(store, create=False).planned_cells(run_id) == [
        "fake CPU | c1 | fake-ok", "fake CPU | chang | fake-hang", "fake CPU | c3 | fake-ok"]
    listing = run_fake_cli("results", "--store", store, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "unfinished: 1 of 3 cells missing" in listing.stdout, listing.stdout
    detail = run_fake_cli("results", "--store", store, "--run", "last", cwd=tmp_path)
    assert detail.returncode == 0, detail.stderr
    assert "not measured: fake CPU | c3 | fake-ok" in detail.stdout, detail.stdout


def test_sigkill_leaves_a_run_that_shows_as_unfinished(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    runner_proc, store, log, _tmpdir = _start_hanging_run(tmp_path, ws)
    workers: list[psutil.Process] = []
    try:
        wait_for(lambda: "[2/3] fake CPU | chang" in log.read_text() or runner_proc.poll() is not None,
                 what="the hanging cell to start")
        workers = wait_for(lambda: workers_of(runner_proc.pid), what="the hanging cell's worker")
        runner_proc.send_signal(signal.SIGKILL)
        runner_proc.communicate(timeout=30)
    finally:
        runner_proc.kill()
        kill_quietly(workers)
    listing = run_fake_cli("results", "--store", store, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "unfinished: 2 of 3 cells missing" in listing.stdout, listing.stdout
    complete = run_fake_cli("run", "--suite", ws.suite("ok", [("c1", ["fake-ok"])]), "--framework", "fake",
                            "--device", "CPU", "--store", store, "--quiet", cwd=tmp_path)
    assert complete.returncode == 0, complete.stderr
    listing = run_fake_cli("results", "--store", store, cwd=tmp_path)
    assert listing.stdout.rstrip().splitlines()[-1].endswith("complete"), listing.stdout


def test_a_store_that_cannot_take_a_row_is_refused_before_any_cell(tmp_path: Path, fake_backend: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the store's write lock: the run stops before the first cell, not after it."""
    from genai_harness.runner.benchmark import run

    ws = FakeWorkspace(tmp_path)
    ws.workload("w1")
    suite = ws.suite("one", [("w1", ["fake-ok"])])
    store = tmp_path / "locked.sqlite"
    ResultStore(store)
    started: list[str] = []
    real_call_worker = runner.call_worker
    monkeypatch.setattr(runner, "call_worker", lambda *a, **k: started.append("cell") or real_call_worker(*a, **k))
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.chdir(tmp_path)
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            run(str(suite), frameworks=fake_backend, devices="CPU", store=store, config=ws.config, progress=False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert started == [], "a cell ran although the store could not take its row"
    assert ResultStore(store).count() == 0


def test_reading_an_empty_file_as_a_store_leaves_it_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    proc = run_fake_cli("results", "--store", empty, cwd=tmp_path)
    assert proc.returncode == StoreError.exit_code and "not a results store" in proc.stderr
    assert empty.read_bytes() == b""


def test_a_signal_while_a_cell_is_written_waits_for_the_write() -> None:
    """SIGTERM during the store write of a finished cell: the rows are written whole, then the run ends.

    In a fresh interpreter, as the CLI runs (signals sent to this test process would reach pytest too)."""
    code = (
        "import os, signal\n"
        "from genai_harness.runner.signals import Terminated, signals_deferred, signals_interrupt\n"
        "written = []\n"
        "try:\n"
        "    with signals_interrupt():\n"
        "        with signals_deferred():\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "            written.append('row')\n"  # still runs: the signal waits for the block's end
        "        written.append('after')\n"  # never runs
        "except Terminated as exc:\n"
        "    print(written, exc.exit_code, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['row'] 143 True"
