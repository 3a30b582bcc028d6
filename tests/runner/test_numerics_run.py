"""Numerics, skipped cells and batch truth through the real run layer (worker subprocesses, a real store), with
the fake backend as the runtime: precision/threads requested from a workload, the CLI or the API, read back,
honoured or refused; a cell that does not apply is skipped and the run exits 0."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from support import FakeWorkspace, fake_registered, run_fake_cli

from genai_harness.errors import ConfigurationError
from genai_harness.results.store import ResultStore
from genai_harness.runner.benchmark import run


def write_precision_workload(ws: FakeWorkspace, name: str, run_table: str) -> Path:
    path = ws.workload(name, repetitions=2)
    path.write_text(path.read_text() + run_table)
    return path


def test_rows_record_the_numerics_read_back_and_the_request(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    suite = ws.suite("s", [("w", ["fake-ok"])])
    with fake_registered():
        frame = run(str(suite), frameworks=["fake"], devices=["CPU"], store=tmp_path / "s.sqlite",
                    config=ws.config, progress=False)
    assert (frame["status"] == "ok").all() and len(frame) == 2
    row = frame.iloc[0]
    assert row["precision"] == "f32" and row["threads"] == 1 and row["weight_dtypes"] == "f32"
    assert row["precision_requested"] == "default" and pd.isna(row["threads_requested"])
    assert json.loads(row["numerics"])["runtime"] == "fake" and row["runtime"] == "fake"
    gaps = json.loads(row["itl_by_position_ms"])  # one median gap per token position, the same on every row
    assert len(gaps) == row["n_new_tokens"] - 1 and frame["itl_by_position_ms"].nunique() == 1
    assert row["energy_source"].startswith("none: ")  # this VM exposes no counter; the reason is recorded


def test_a_precision_the_runtime_cannot_honour_fails_the_cell_with_the_reason(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    write_precision_workload(ws, "w", 'precision = "bf16"\n')
    suite = ws.suite("s", [("w", ["fake-ok"])])
    with fake_registered():
        frame = run(str(suite), frameworks=["fake"], devices=["CPU"], store=tmp_path / "s.sqlite",
                    config=ws.config, progress=False)
    assert frame["status"].tolist() == ["failed"]
    row = frame.iloc[0]
    assert row["error_type"] == "NumericsError" and row["precision_requested"] == "bf16"
    assert "asked for precision bf16 but runs at f32 (read back after load)" in row["error"]


def test_the_api_request_overrides_the_workload(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    write_precision_workload(ws, "w", 'precision = "bf16"\nthreads = 4\n')
    suite = ws.suite("s", [("w", ["fake-ok"])])
    with fake_registered():
        frame = run(str(suite), frameworks=["fake"], devices=["CPU"], store=tmp_path / "s.sqlite",
                    config=ws.config, progress=False, precision="f32", threads=1)
    assert (frame["status"] == "ok").all(), frame["error"].tolist()
    assert frame["precision_requested"].tolist() == ["f32", "f32"] and frame["threads_requested"].tolist() == [1, 1]
    with fake_registered(), pytest.raises(ConfigurationError, match="precision 'fp8' is not one of"):
        run(str(suite), frameworks=["fake"], devices=["CPU"], store=tmp_path / "s.sqlite", config=ws.config,
            progress=False, precision="fp8")


def test_threads_not_honoured_are_refused(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=1)
    suite = ws.suite("s", [("w", ["fake-ok"])])
    proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--threads", "3",
                        "--store", tmp_path / "s.sqlite", "--quiet", cwd=tmp_path)
    assert proc.returncode == 9, proc.stderr
    row = ResultStore(tmp_path / "s.sqlite").read().iloc[0]
    assert row["status"] == "failed" and "asked for 3 threads but runs 1" in row["error"]


def test_a_cell_beyond_the_models_context_is_skipped_and_the_run_exits_0(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    suite = ws.suite("s", [("w", ["fake-ok", "fake-long"])])
    proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--device", "CPU",
                        "--store", tmp_path / "s.sqlite", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    frame = ResultStore(tmp_path / "s.sqlite").read()
    skipped = frame[frame["model_id"] == "fake-long"]
    assert skipped["status"].tolist() == ["skipped"]
    assert skipped.iloc[0]["error_type"] == "ContextLengthError"
    assert "exceeds the model's context of 8 tokens" in skipped.iloc[0]["error"]
    assert "fake-long: skipped: prompt of" in proc.stderr  # the summary says why
    assert (frame[frame["model_id"] == "fake-ok"]["status"] == "ok").all()


def test_a_classification_row_says_the_batch_that_ran(tmp_path: Path) -> None:
    """The fake classifier takes any batch: batch_size is the workload's and nothing was fed otherwise."""
    ws = FakeWorkspace(tmp_path)
    ws.workload("c", task="classification", repetitions=1, batch_size=4)
    suite = ws.suite("s", [("c", ["fake-classify"])])
    with fake_registered():
        frame = run(str(suite), frameworks=["fake"], devices=["CPU"], store=tmp_path / "s.sqlite",
                    config=ws.config, progress=False, stream=io.StringIO())
    assert frame["batch_size"].tolist() == [4] and frame["batch_requested"].isna().all()
