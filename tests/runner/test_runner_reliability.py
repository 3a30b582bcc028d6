"""The run layer under failure: cells that abort, hang or raise; SIGKILL and Ctrl-C of the runner; two runners on
one store; a parent that imports no runtime; an older store. Real worker subprocesses and a real SQLite store; only
the runtime is the deterministic fake backend (whose model-folder name picks its behaviour)."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
from support import (
    FAKE_PRELUDE,
    RUNTIME_MODULES,
    FakeWorkspace,
    assert_one_error_line,
    clean_env,
    fake_cli_code,
    fake_registered,
    run_fake_cli,
)
from support.processes import alive, hanging, kill_quietly, store_rows, wait_for, workers_of
from support.stores import make_v0_store

from genai_harness.results.schema import COLUMN_NAMES, PANDAS_DTYPES, SCHEMA_VERSION
from genai_harness.results.store import ResultStore
from genai_harness.runner.benchmark import run
from genai_harness.workloads.spec import load_workload

CELL_KEY = ["workload_id", "model_id", "device"]


def start_runner(code: str, cwd: Path, log: Path) -> subprocess.Popen[str]:
    """A runner in a fresh interpreter; its progress (stderr) goes to ``log``."""
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=clean_env(), stdout=subprocess.PIPE,
                                stderr=err, text=True)


def api_run_code(suite: Path, store: Path, ballast_mb: int = 0, **options: Any) -> str:
    """``python -c`` code that runs ``suite`` through the API with the fake backend and prints a JSON report.

    ``ballast_mb`` of touched memory make the runner big before the run (and stay alive through it).
    """
    return FAKE_PRELUDE + (
        "import json, resource\n"
        "from genai_harness.runner.benchmark import run\n"
        "from genai_harness.host.memory import own_peak_rss_mb\n"
        f"ballast = bytearray({ballast_mb} * 1024 * 1024)\n"
        "ballast[::4096] = b'x' * len(ballast[::4096])\n"
        f"frame = run({str(suite)!r}, frameworks=['fake'], store={str(store)!r}, **{options!r})\n"
        f"modules = {{m: m in sys.modules for m in {RUNTIME_MODULES!r}}}\n"
        "print(json.dumps({'run_ids': sorted(set(frame['run_id'])), 'rows': len(frame), 'modules': modules,\n"
        "                  'peak_rss_mb': frame['peak_rss_mb'].dropna().tolist(), 'own_peak_mb': own_peak_rss_mb(),\n"
        "                  'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
    )


# ---- a suite of ok and failing cells, run through the API ------------------------------------------------------------

MIXED = [  # (workload, model, expected status)
    ("ta", "fake-ok", "ok"),
    ("ta", "fake-abort", "crashed"),
    ("ta", "fake-hang", "timeout"),
    ("ta", "fake-raise", "failed"),
    ("ta", "fake-mismatch", "failed"),
    ("tb", "fake-ok", "ok"),
    ("img", "fake-image", "ok"),
    ("cls", "fake-classify", "ok"),
]
REPS = {"ta": 3, "tb": 2, "img": 2, "cls": 4}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ws = FakeWorkspace(tmp_path_factory.mktemp("mixed"))
    files = {
        "ta": ws.workload("ta", repetitions=REPS["ta"], warmup=1),
        "tb": ws.workload("tb", repetitions=REPS["tb"], prompt_tokens=40, new_tokens=6),
        "img": ws.workload("img", task="text2image", repetitions=REPS["img"]),
        "cls": ws.workload("cls", task="classification", repetitions=REPS["cls"]),
    }
    suite = ws.suite("mixed", [("ta", ["fake-ok"]), ("ta", ["fake-abort", "fake-hang", "fake-raise", "fake-mismatch"]),
                               ("tb", ["fake-ok"]), ("img", ["fake-image"]), ("cls", ["fake-classify"])])
    store = ws.root / "results" / "store.sqlite"
    stream = io.StringIO()
    started = time.monotonic()
    with fake_registered():
        frame = run(str(suite), frameworks=["fake"], devices=["CPU"], store=store, config=ws.config, stream=stream)
    return {"frame": frame, "store": store, "files": files, "progress": stream.getvalue(), "ws": ws,
            "seconds": time.monotonic() - started}


def cell_rows(frame: pd.DataFrame, workload: str, model: str) -> pd.DataFrame:
    return frame[(frame["workload_id"] == workload) & (frame["model_id"] == model)]


def test_failing_cells_are_recorded_with_their_reason_and_the_run_goes_on(mixed: dict[str, Any]) -> None:
    frame = mixed["frame"]
    order = list(dict.fromkeys(zip(frame["workload_id"], frame["model_id"], strict=True)))
    assert order == [(w, m) for w, m, _ in MIXED], "cells ran out of order or some are missing"
    for workload, model, status in MIXED:
        rows = cell_rows(frame, workload, model)
        assert set(rows["status"]) == {status}, (workload, model, rows[["status", "error"]])
        assert len(rows) == (REPS[workload] if status == "ok" else 1)
    reasons = {m: cell_rows(frame, "ta", m).iloc[0] for m in ("fake-abort", "fake-hang", "fake-raise", "fake-mismatch")}
    assert "SIGABRT" in reasons["fake-abort"]["error"] and reasons["fake-abort"]["error_type"] == "CellError"
    assert "timeout" in reasons["fake-hang"]["error"] and "3 s" in reasons["fake-hang"]["error"]
    assert reasons["fake-hang"]["error_type"] == "CellTimeoutError"
    assert "fake runtime failure" in reasons["fake-raise"]["error"]
    assert reasons["fake-raise"]["error_type"] == "GenerationError"
    assert "fake runtime ran on CPU" in reasons["fake-mismatch"]["error"]
    assert reasons["fake-mismatch"]["error_type"] == "DeviceMismatchError"
    for row in reasons.values():  # a failed cell: one row, no repetition, no metrics
        assert pd.isna(row["repetition"]) and pd.isna(row["ttft_ms"]) and pd.isna(row["load_s"])
        assert row["workload_hash"] and row["model_hash"] and row["device"] == "CPU"


def test_ok_cells_before_and_after_the_failures_are_intact(mixed: dict[str, Any]) -> None:
    frame = mixed["frame"]
    for workload, n_in, n_new in (("ta", 16, 4), ("tb", 40, 6)):
        rows = cell_rows(frame, workload, "fake-ok")
        assert rows["error"].isna().all() and rows["error_type"].isna().all()
        for column in ("ttft_ms", "tpot_ms", "itl_p50_ms", "itl_p90_ms", "decode_tps", "prefill_tps", "e2e_ms",
                       "load_s", "peak_rss_mb"):
            assert rows[column].notna().all() and (rows[column] >= 0).all(), column
        assert (rows["n_input_tokens"] == n_in).all() and (rows["n_new_tokens"] == n_new).all()
        assert (rows["e2e_ms"] >= rows["ttft_ms"]).all()
        assert [json.loads(x) for x in rows["native_metrics"]] == [{"fake_native_tokens": n_new}] * len(rows)
    image = cell_rows(frame, "img", "fake-image")
    assert image["image_ms"].notna().all() and image["step_ms"].notna().all() and image["ttft_ms"].isna().all()
    classify = cell_rows(frame, "cls", "fake-classify")
    assert (classify["batch_size"] == 2).all() and classify["items_per_s"].notna().all()
    assert (frame.loc[frame["status"] == "ok", "peak_rss_mb"] > 10).all()  # a real child's OS accounting


def test_progress_reports_each_cell_and_the_failures(mixed: dict[str, Any]) -> None:
    text = mixed["progress"]
    assert f"[1/{len(MIXED)}] fake CPU | ta | fake-ok" in text
    assert f"[{len(MIXED)}/{len(MIXED)}] fake CPU | cls | fake-classify" in text
    for word in ("crashed in", "timeout in", "failed in"):
        assert word in text
    assert "fake CPU | ta | fake-abort: crashed:" in text and "killed by SIGABRT" in text


def test_the_hung_cell_left_no_worker_behind(mixed: dict[str, Any]) -> None:
    assert workers_of(os.getpid()) == []
    assert mixed["seconds"] < 60


def test_the_returned_frame_is_the_stored_run_with_every_schema_column(mixed: dict[str, Any]) -> None:
    frame = mixed["frame"]
    assert list(frame.columns) == list(COLUMN_NAMES)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == PANDAS_DTYPES
    stored = store_rows(mixed["store"])
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), stored.reset_index(drop=True))
    assert frame["run_id"].nunique() == 1 and frame["run_started_at"].notna().all()
    assert (frame["schema_version"] == SCHEMA_VERSION).all()
    for column in ("machine_fingerprint", "hostname", "machine_profile", "workload_hash", "model_hash",
                   "python_executable", "recorded_at", "harness_version"):
        assert frame[column].notna().all() and (frame[column].astype(str) != "").all(), column
    assert frame["machine_fingerprint"].nunique() == 1
    assert json.loads(frame["machine_profile"].iloc[0])["fingerprint"] == frame["machine_fingerprint"].iloc[0]
    assert (frame["device"] == "CPU").all() and (frame["device_identifier"] == "CPU").all()
    assert (frame["environment"] == "default").all() and (frame["framework"] == "fake").all()
    assert (frame["python_executable"] == sys.executable).all()
    ok = frame[frame["status"] == "ok"]
    assert (ok["execution_provider"] == "FakeCPU").all() and (ok["actual_device"] == "CPU").all()
    for workload, path in mixed["files"].items():
        rows = frame[frame["workload_id"] == workload]
        spec = load_workload(path)
        assert (rows["workload_hash"] == spec.hash).all() and (rows["workload_version"] == 1).all()
        assert set(rows["task"]) == {spec.task}
    for (workload, model), rows in ok.groupby(["workload_id", "model_id"]):
        assert rows["repetition"].tolist() == list(range(REPS[workload])), (workload, model)
        assert rows["model_hash"].nunique() == 1 and rows["model_hash"].iloc[0] != "missing"
        assert rows["load_s"].nunique() == 1  # one load per cell, repeated on each of its rows


# ---- SIGKILL and Ctrl-C of the runner -------------------------------------------------------------------------------

def test_sigkill_of_the_runner_keeps_every_finished_cell_whole(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    for name in ("k1", "k2", "k3"):
        ws.workload(name, repetitions=3)
    ws.workload("khang", timeout_s=60)
    suite = ws.suite("kill", [("k1", ["fake-ok"]), ("k2", ["fake-ok"]), ("k3", ["fake-ok"]), ("khang", ["fake-hang"])])
    store, log = tmp_path / "store.sqlite", tmp_path / "progress.log"
    runner = start_runner(api_run_code(suite, store, devices=["CPU"], config=str(ws.config)), tmp_path, log)
    leftovers: list[psutil.Process] = []
    try:
        wait_for(lambda: "[4/4] fake CPU | khang" in log.read_text() or runner.poll() is not None,
                 what="the hanging cell to start")
        assert runner.poll() is None, log.read_text()
        leftovers = wait_for(lambda: workers_of(runner.pid), what="the hanging cell's worker")
        wait_for(lambda: hanging(leftovers), what="the worker to reach the hang")
        runner.send_signal(signal.SIGKILL)
        assert runner.wait(timeout=30) == -signal.SIGKILL
    finally:
        runner.kill()
        runner.communicate()
        kill_quietly(leftovers)  # a SIGKILLed runner cannot reap its worker; the test does
    frame = store_rows(store)
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert frame["workload_id"].tolist() == ["k1"] * 3 + ["k2"] * 3 + ["k3"] * 3
    assert (frame["status"] == "ok").all() and frame["ttft_ms"].notna().all()
    reps = frame.groupby("workload_id")["repetition"].apply(list).to_dict()
    assert reps == {k: [0, 1, 2] for k in ("k1", "k2", "k3")}
    ResultStore(store).append([{"run_id": "after", "status": "ok"}])  # and it takes more rows
    assert ResultStore(store).count() == 10


def test_sigkill_during_the_first_cell_leaves_a_run_that_results_lists_as_unfinished(tmp_path: Path) -> None:
    """Killed before any row: the plan alone makes the run visible, its missing cells named (issue 24, point 3)."""
    ws = FakeWorkspace(tmp_path)
    ws.workload("first", timeout_s=60)
    ws.workload("second")
    suite = ws.suite("first-kill", [("first", ["fake-hang"]), ("second", ["fake-ok"])])
    store, log = tmp_path / "store.sqlite", tmp_path / "progress.log"
    ResultStore(store).append([{"run_id": "earlier", "status": "ok", "run_started_at": "2000-01-01T00:00:00+00:00",
                                "hostname": "h", "machine_fingerprint": "fp", "workload_id": "w"}])
    code = fake_cli_code("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--store", store)
    runner = start_runner(code, tmp_path, log)
    workers: list[psutil.Process] = []
    try:
        wait_for(lambda: "[1/2] fake CPU | first" in log.read_text() or runner.poll() is not None,
                 what="the first cell to start")
        assert runner.poll() is None, log.read_text()
        workers = wait_for(lambda: workers_of(runner.pid), what="the first cell's worker")
        wait_for(lambda: hanging(workers), what="the worker to reach the hang")
        runner.send_signal(signal.SIGKILL)
        assert runner.wait(timeout=30) == -signal.SIGKILL
    finally:
        runner.kill()
        runner.communicate()
        kill_quietly(workers)
    assert ResultStore(store).count() == 1  # no row of the killed run
    listing = run_fake_cli("results", "--store", store, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    killed = [line for line in listing.stdout.splitlines() if "unfinished: 2 of 2 cells missing" in line]
    assert len(killed) == 1 and "earlier" not in killed[0], listing.stdout
    run_id = killed[0].split()[0]
    for selector in (run_id, "last"):
        shown = run_fake_cli("results", "--store", store, "--run", selector, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert f"run {run_id} is unfinished: 2 of 2 cells missing" in shown.stdout
        unmeasured = [line for line in shown.stdout.splitlines() if "not measured:" in line]
        assert len(unmeasured) == 2 and "first" in unmeasured[0] and "second" in unmeasured[1], shown.stdout


def test_ctrl_c_kills_the_running_cell_records_it_and_keeps_the_rest(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("c1")
    ws.workload("c2")
    ws.workload("chang", timeout_s=60)
    suite = ws.suite("ctrlc", [("c1", ["fake-ok"]), ("c2", ["fake-ok"]), ("chang", ["fake-hang"])])
    store, log = tmp_path / "store.sqlite", tmp_path / "progress.log"
    code = fake_cli_code("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--store", store)
    runner = start_runner(code, tmp_path, log)  # the working folder's genai-harness.toml registers the models
    workers: list[psutil.Process] = []
    try:
        wait_for(lambda: "[3/3] fake CPU | chang" in log.read_text() or runner.poll() is not None,
                 what="the hanging cell to start")
        assert runner.poll() is None, log.read_text()
        workers = wait_for(lambda: workers_of(runner.pid), what="the hanging cell's worker")
        wait_for(lambda: hanging(workers), what="the worker to reach the hang")
        runner.send_signal(signal.SIGINT)
        stdout, _ = runner.communicate(timeout=30)
        # checked before the cleanup below: the runner itself must have killed its hung worker
        wait_for(lambda: not any(map(alive, workers)), timeout=10, what="the hung worker to be gone")
    finally:
        runner.kill()
        kill_quietly(workers)
    progress = log.read_text()
    assert runner.returncode == 130, progress
    assert progress.rstrip().endswith("genai-harness: interrupted"), progress
    assert "Traceback" not in progress and stdout == ""
    assert "interrupted in" in progress
    frame = store_rows(store)
    assert frame["workload_id"].tolist() == ["c1", "c1", "c2", "c2", "chang"]
    assert frame["status"].tolist() == ["ok"] * 4 + ["interrupted"]
    assert frame["repetition"].tolist()[:4] == [0, 1, 0, 1]
    last = frame.iloc[-1]
    assert last["error"] == "interrupted by the user (Ctrl-C)" and last["error_type"] == "Interrupted"
    assert pd.isna(last["repetition"]) and pd.isna(last["ttft_ms"])
    assert frame["run_id"].nunique() == 1


def test_ctrl_c_through_the_api_raises_keyboard_interrupt(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("c1")
    ws.workload("chang", timeout_s=60)
    suite = ws.suite("ctrlc", [("c1", ["fake-ok"]), ("chang", ["fake-hang"])])
    store, log = tmp_path / "store.sqlite", tmp_path / "progress.log"
    code = ("try:\n" + "".join(f"    {line}\n" for line in api_run_code(suite, store, devices=["CPU"]).splitlines())
            + "except KeyboardInterrupt:\n    print('KeyboardInterrupt'); sys.exit(42)\n")
    runner = start_runner(code, tmp_path, log)
    workers: list[psutil.Process] = []
    try:
        wait_for(lambda: "[2/2] fake CPU | chang" in log.read_text() or runner.poll() is not None,
                 what="the hanging cell to start")
        workers = wait_for(lambda: workers_of(runner.pid), what="the hanging cell's worker")
        wait_for(lambda: hanging(workers), what="the worker to reach the hang")
        runner.send_signal(signal.SIGINT)
        stdout, _ = runner.communicate(timeout=30)
        wait_for(lambda: not any(map(alive, workers)), timeout=10, what="the hung worker to be gone")
    finally:
        runner.kill()
        kill_quietly(workers)
    assert runner.returncode == 42 and stdout.strip() == "KeyboardInterrupt", log.read_text()
    assert store_rows(store)["status"].tolist() == ["ok", "ok", "interrupted"]


# ---- two runners, one store; and what the parent imports -------------------------------------------------------------

@pytest.fixture(scope="module")
def two_runners(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ws = FakeWorkspace(tmp_path_factory.mktemp("two"))
    ws.workload("p1", repetitions=3)
    ws.workload("p2", task="classification", repetitions=2)
    suite = ws.suite("pair", [("p1", ["fake-ok"]), ("p2", ["fake-classify"])])
    store = ws.root / "shared" / "store.sqlite"
    runners = [start_runner(api_run_code(suite, store, config=str(ws.config), progress=False), ws.root,
                            ws.root / f"runner{i}.log") for i in range(2)]
    reports = []
    for i, runner in enumerate(runners):
        stdout, _ = runner.communicate(timeout=120)
        assert runner.returncode == 0, (ws.root / f"runner{i}.log").read_text()
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    return {"store": store, "reports": reports}


def test_two_runners_on_one_store_lose_no_row(two_runners: dict[str, Any]) -> None:
    per_run = 2 * 3 + 2 * 2  # CPU and NPU of the fake backend; p1 3 repetitions, p2 2
    reports = two_runners["reports"]
    assert [r["rows"] for r in reports] == [per_run, per_run]
    run_ids = [r["run_ids"][0] for r in reports]
    assert len(set(run_ids)) == 2 and all(len(r["run_ids"]) == 1 for r in reports)
    frame = store_rows(two_runners["store"])
    assert frame.groupby("run_id").size().to_dict() == dict.fromkeys(run_ids, per_run)
    assert (frame["status"] == "ok").all()
    reps = frame.groupby(["run_id", "workload_id", "device"])["repetition"].apply(sorted)
    assert sorted(map(tuple, reps)) == sorted([(0, 1, 2)] * 4 + [(0, 1)] * 4)


def test_the_parent_of_a_run_imports_no_runtime(two_runners: dict[str, Any]) -> None:
    for report in two_runners["reports"]:
        assert report["modules"] == dict.fromkeys(RUNTIME_MODULES, False)
        maxrss_mb = report["maxrss_kb"] / (1024 * 1024 if sys.platform == "darwin" else 1024)
        # On Linux ru_maxrss carries over exec from the spawning process (here: pytest, possibly large), so the
        # runner's own peak is VmHWM; without /proc, ru_maxrss is all there is.
        own = report["own_peak_mb"] if report["own_peak_mb"] is not None else maxrss_mb
        print(f"parent of a fake run: ru_maxrss {maxrss_mb:.0f} MB, own peak RSS {own:.0f} MB")
        assert own < 200


def test_peak_rss_of_a_cell_is_the_workers_own_not_its_parents(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    suite = ws.suite("s", [("w", ["fake-ok"])])
    runner = start_runner(api_run_code(suite, tmp_path / "s.sqlite", ballast_mb=700, devices=["CPU"]), tmp_path,
                          tmp_path / "log")
    stdout, _ = runner.communicate(timeout=120)
    assert runner.returncode == 0, (tmp_path / "log").read_text()
    report = json.loads(stdout.strip().splitlines()[-1])
    if report["own_peak_mb"] is None:
        pytest.skip("no /proc: the worker's own peak is not separable from its parent's here")
    assert report["own_peak_mb"] > 700  # the runner really was big when it spawned the worker
    assert len(report["peak_rss_mb"]) == 2
    assert all(10 < mb < 300 for mb in report["peak_rss_mb"]), report["peak_rss_mb"]  # a fake cell's worker


# ---- an older store as --store ---------------------------------------------------------------------------------------


def test_an_older_store_is_refused_before_anything_runs(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w")
    suite = ws.suite("s", [("w", ["fake-ok"])])
    store = tmp_path / "v0.sqlite"
    make_v0_store(store)
    before = store.read_bytes()
    proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--store", store,
                        cwd=tmp_path)
    line = assert_one_error_line(proc, 11)  # one line: no cell started
    assert f"results store {store} has schema version 0" in line
    assert f"older than version {SCHEMA_VERSION}" in line and "nothing was run" in line
    assert "--store" in line and "results --store" in line and "--migrate" in line
    assert store.read_bytes() == before  # a schema 0 store is rewritten only when asked; nothing appended
    old = ResultStore(store, create=False)
    assert old.schema_version == 0 and old.count() == 1
    frame = old.read()
    assert frame["run_id"].tolist() == ["old"] and frame["ttft_ms"].tolist() == [9.0]
    assert frame["itl_p90_ms"].isna().all() and frame["native_metrics"].isna().all()
