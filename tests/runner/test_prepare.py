"""One way to prepare a run: ``ab`` and the dispatcher's probe upgrade a schema-3 store (or refuse an older one) before
their first cell, as ``run`` does; the probe builds its workload in memory and leaves no temporary folder behind."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from support import FakeWorkspace, assert_one_error_line, fake_registered, run_fake_cli
from support.stores import cell_rows, make_v0_store, make_v3_store

from genai_harness.dispatch.probe import probe
from genai_harness.errors import SchemaVersionError, WorkloadError
from genai_harness.gate.ab import run_ab
from genai_harness.results.schema import SCHEMA_VERSION
from genai_harness.results.store import ResultStore
from genai_harness.tasks.registry import task_kind
from genai_harness.workloads.suites import suite_in_memory

SIDES = ("opts:threads=1", "opts:precision=f32")
"""Two option sets the fake runtime honours both (numpy float32 on one thread): every cell of either side runs."""


def _workspace(tmp_path: Path) -> tuple[FakeWorkspace, Path]:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    return ws, ws.suite("s", [("w", ["fake-ok"])])


def test_ab_upgrades_a_schema_3_store_before_its_first_round(tmp_path: Path) -> None:
    ws, suite = _workspace(tmp_path)
    path = tmp_path / "v3.sqlite"
    make_v3_store(path, cell_rows(run_id="r3"))
    said = io.StringIO()
    with fake_registered():
        frame_a, frame_b = run_ab(*SIDES, str(suite), rounds=1, frameworks=["fake"], devices=["CPU"], store=path,
                                  config=ws.config, stream=said)
    text = said.getvalue()
    assert "upgraded results store" in text and f"from schema version 3 to {SCHEMA_VERSION}" in text
    assert text.index("upgraded results store") < text.index("A/B ")  # before the rounds are even announced
    assert set(frame_a["status"]) == set(frame_b["status"]) == {"ok"}
    store = ResultStore(path, create=False)
    assert store.schema_version == SCHEMA_VERSION and store.count() == 3 + len(frame_a) + len(frame_b)


def test_ab_refuses_an_older_store_before_anything_runs(tmp_path: Path) -> None:
    _ws, suite = _workspace(tmp_path)
    path = tmp_path / "v0.sqlite"
    make_v0_store(path)
    before = path.read_bytes()
    proc = run_fake_cli("ab", *SIDES, "--suite", suite, "--framework", "fake", "--device", "CPU", "--rounds", "1",
                        "--store", path, cwd=tmp_path)
    line = assert_one_error_line(proc, SchemaVersionError.exit_code)  # one line: no round started
    assert f"results store {path} has schema version 0" in line and "nothing was run" in line
    assert path.read_bytes() == before


def test_the_probe_upgrades_a_schema_3_store_before_its_first_cell(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ws, _suite = _workspace(tmp_path)
    path = tmp_path / "v3.sqlite"
    make_v3_store(path, cell_rows(run_id="r3"))
    with fake_registered():
        probe("text2text", "fake-ok", path, 30, config=ws.config)
    err = capsys.readouterr().err
    assert "upgraded results store" in err and f"from schema version 3 to {SCHEMA_VERSION}" in err
    store = ResultStore(path, create=False)
    rows = store.read()
    probed = rows[rows["run_id"] != "r3"]
    assert store.schema_version == SCHEMA_VERSION and len(rows) == 3 + len(probed)
    assert len(probed) and set(probed["framework"]) == {"fake"} and set(probed["status"]) == {"ok"}
    assert set(probed["workload_id"]) == {task_kind("text2text").probe_workload(30)["id"]}


def test_the_probe_refuses_an_older_store_before_anything_runs(tmp_path: Path) -> None:
    ws, _suite = _workspace(tmp_path)
    path = tmp_path / "v0.sqlite"
    make_v0_store(path)
    before = path.read_bytes()
    with fake_registered(), pytest.raises(SchemaVersionError, match="has schema version 0"):
        probe("text2text", "fake-ok", path, 30, config=ws.config)
    assert path.read_bytes() == before


def test_the_probe_leaves_no_temporary_folder_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _suite = _workspace(tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # this process's temporary folders and its workers'
    monkeypatch.setattr(tempfile, "tempdir", None)  # read again from TMPDIR
    with fake_registered():
        probe("text2text", "fake-ok", tmp_path / "fresh.sqlite", 30, config=ws.config)
    assert ResultStore(tmp_path / "fresh.sqlite", create=False).count() > 0
    # folders only: a runtime may keep a file of its own there (OpenVINO's session id, .ses), not the probe's
    assert sorted(p.name for p in scratch.iterdir() if p.is_dir()) == []


def test_a_suite_built_in_memory_checks_its_workloads_as_a_file_would() -> None:
    tables = task_kind("text2text").probe_workload(5)
    suite = suite_in_memory("probe", [(tables, ["tiny-llm"])])
    assert suite.id == "probe" and [e.models for e in suite.entries] == [("tiny-llm",)]
    assert suite.entries[0].workload.id == tables["id"] and suite.entries[0].workload.repetitions > 0
    with pytest.raises(WorkloadError, match=r"suite probe \[\[entries\]\] #1 \[run\]: unknown field"):
        suite_in_memory("probe", [({**tables, "run": {"repeat": 3}}, ["tiny-llm"])])
