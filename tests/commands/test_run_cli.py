"""`genai-harness run` as a user types it: one-line errors with their exit codes, --json and --export.

Runs that need a backend use the deterministic fake one, registered by a ``python -c`` wrapper around
``genai_harness.cli.main`` (the fake is no entry point); everything else is the real command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import (
    FakeWorkspace,
    assert_one_error_line,
    clean_env,
    fake_cli_code,
    run_cli,
    run_fake_cli,
)

from genai_harness.results.export import import_file
from genai_harness.results.schema import COLUMN_NAMES
from genai_harness.results.store import ResultStore
from genai_harness.workloads.suites import standard_suites


def fake_suite(ws: FakeWorkspace) -> Path:
    ws.workload("w", repetitions=2)
    return ws.suite("s", [("w", ["fake-ok"])])


# ---- errors found before anything is enumerated ----------------------------------------------------------------------

def test_unknown_suite(tmp_path: Path) -> None:
    proc = run_cli("run", "--suite", "nosuch", "--store", tmp_path / "s.sqlite", cwd=tmp_path)
    line = assert_one_error_line(proc, 7)
    assert "unknown suite 'nosuch'" in line
    for name in standard_suites():
        assert name in line
    assert not (tmp_path / "s.sqlite").exists()


def test_a_bad_cold_start_setting_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    from support import clean_env

    proc = run_cli("run", "--cold", "--suite", "smoke", "--store", tmp_path / "s.sqlite", cwd=tmp_path,
                   env=clean_env(GENAI_HARNESS_COLD_START="sometimes"))
    line = assert_one_error_line(proc, 2)
    assert "$GENAI_HARNESS_COLD_START is 'sometimes'; set it to on or off" in line
    assert not (tmp_path / "s.sqlite").exists()


def test_malformed_workload_in_a_suite(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    bad = ws.workload("bad")
    bad.write_text(bad.read_text().replace("prompt_tokens = 16", 'prompt_tokens = "ten"'))
    suite = ws.suite("s", [("bad", ["fake-ok"])])
    proc = run_cli("run", "--suite", suite, cwd=tmp_path)
    line = assert_one_error_line(proc, 7)
    assert f"{bad} [input]: field 'prompt_tokens' must be int, got 'ten'; fix the value" in line
    assert not (tmp_path / "results").exists()


def test_suite_entry_without_workload(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('[[entries]]\nmodels = ["fake-ok"]\n')
    line = assert_one_error_line(run_cli("run", "--suite", suite, cwd=tmp_path), 7)
    assert f"{suite} [[entries]] #1: field 'workload'" in line


# ---- errors found while planning (after enumeration), run side by side -----------------------------------------------

PLAN_ERRORS = {
    "device": (["--device", "NOPE"], 5),
    "framework": (["--framework", "nosuch"], 2),
    "model": (["--model", "nosuch"], 3),
}


@pytest.fixture(scope="module")
def plan_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    ws = FakeWorkspace(tmp_path_factory.mktemp("plan-errors"))
    suite = fake_suite(ws)
    procs = {}
    for name, (args, _) in PLAN_ERRORS.items():
        code = fake_cli_code("run", "--suite", suite, "--store", ws.root / f"{name}.sqlite", *args)
        procs[name] = subprocess.Popen([sys.executable, "-c", code], cwd=ws.root, env=clean_env(),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert not list(ws.root.glob("*.sqlite")), "a run that planned nothing created a store"
    return done


def test_unknown_device_lists_the_usable_ones(plan_errors: dict[str, Any]) -> None:
    line = assert_one_error_line(plan_errors["device"], PLAN_ERRORS["device"][1])
    assert "no usable device matches 'NOPE'" in line
    usable = line.split("usable: ")[1]
    assert "CPU" in usable and "NPU" in usable  # the fake backend's usable devices (its GPU is not)
    assert "genai-harness devices" in line


def test_unknown_framework(plan_errors: dict[str, Any]) -> None:
    line = assert_one_error_line(plan_errors["framework"], PLAN_ERRORS["framework"][1])
    assert "unknown framework 'nosuch'; known frameworks:" in line and "fake" in line


def test_unknown_model(plan_errors: dict[str, Any]) -> None:
    line = assert_one_error_line(plan_errors["model"], PLAN_ERRORS["model"][1])
    assert "unknown model 'nosuch'; known models:" in line and "fake-ok" in line


# ---- real runs -------------------------------------------------------------------------------------------------------

def test_json_and_csv_export_with_a_failing_cell(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=3)
    suite = ws.suite("s", [("w", ["fake-ok", "fake-raise"])])
    out = tmp_path / "exports" / "out.csv"
    proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--json",
                        "--export", out, cwd=tmp_path)
    assert proc.returncode == 9, proc.stderr  # CellError: some cell failed
    assert "genai-harness: 1 cell(s) failed; their reasons are in the store" in proc.stderr
    assert f"exported 4 rows to {out}" in proc.stderr
    assert "Traceback" not in proc.stderr
    rows = json.loads(proc.stdout)  # stdout holds only the JSON
    assert [(r["model_id"], r["status"], r["repetition"]) for r in rows] == [
        ("fake-ok", "ok", 0), ("fake-ok", "ok", 1), ("fake-ok", "ok", 2), ("fake-raise", "failed", None)]
    assert set(rows[0]) == set(COLUMN_NAMES)
    assert rows[0]["ttft_ms"] > 0 and rows[0]["n_new_tokens"] == 4 and rows[3]["ttft_ms"] is None
    assert "fake runtime failure" in rows[3]["error"]
    exported = import_file(out)
    assert list(exported.columns) == list(COLUMN_NAMES) and len(exported) == 4
    stored = ResultStore(tmp_path / "results" / "genai-harness.sqlite", create=False).read()  # the default store
    assert stored["run_id"].unique().tolist() == [rows[0]["run_id"]] == exported["run_id"].unique().tolist()
    assert exported["ttft_ms"].tolist()[:3] == pytest.approx(stored["ttft_ms"].tolist()[:3])


def test_parquet_export_quiet_run(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    suite = fake_suite(ws)
    out, store = tmp_path / "out.parquet", tmp_path / "mine.sqlite"
    proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--store", store, "--export", out,
                        "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip() == f"exported 4 rows to {out}"  # --quiet: no progress, no summary
    exported = import_file(out)
    assert list(exported.columns) == list(COLUMN_NAMES)
    assert sorted(exported["device"]) == ["CPU", "CPU", "NPU", "NPU"]
    assert (exported["status"] == "ok").all()
    assert exported.reset_index(drop=True).equals(ResultStore(store).read().reset_index(drop=True))
    assert not (tmp_path / "results").exists()  # --store replaced the default store
