"""`genai-harness results`: stores from several machines listed, summarized, merged and exported."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from support import FakeWorkspace, assert_one_error_line, run_cli, run_fake_cli

from genai_harness.cli import one_line


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, FakeWorkspace]:
    """Two stores written by real runs of the fake backend; the second poses as another machine."""
    ws = FakeWorkspace(tmp_path_factory.mktemp("results"))
    ws.workload("w", repetitions=2)
    suite = ws.suite("s", [("w", ["fake-ok"])])
    first, second = ws.root / "a.sqlite", ws.root / "b.sqlite"
    for store in (first, second):
        proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--store", store,
                            "--quiet", cwd=ws.root)
        assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(second) as conn:  # another machine: other fingerprint and host
        conn.execute("UPDATE cells SET machine_fingerprint = 'ffffffffffffffff', hostname = 'other-host'")
    return first, second, ws


def test_lists_runs_of_several_machines(two_stores: tuple[Path, Path, FakeWorkspace]) -> None:
    first, second, ws = two_stores
    proc = run_cli("results", "--store", first, "--store", second, cwd=ws.root)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines()[2:] if ln.strip()]
    assert len(lines) == 2
    assert any("other-host" in ln and "ffffffffffffffff" in ln for ln in lines)


def test_summarizes_the_last_run(two_stores: tuple[Path, Path, FakeWorkspace]) -> None:
    first, _, ws = two_stores
    proc = run_cli("results", "--store", first, "--run", "last", cwd=ws.root)
    assert proc.returncode == 0, proc.stderr
    row = next(ln for ln in proc.stdout.splitlines() if ln.startswith("fake"))
    assert "fake-ok" in row and " ok " in row and "nan" not in row


def test_exports_the_merge_keeping_each_rows_machine(two_stores: tuple[Path, Path, FakeWorkspace],
                                                      tmp_path: Path) -> None:
    first, second, ws = two_stores
    out = tmp_path / "all.parquet"
    proc = run_cli("results", "--store", first, "--store", second, "--export", out, cwd=ws.root)
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_parquet(out)
    assert len(frame) == 4
    assert set(frame["machine_fingerprint"]) >= {"ffffffffffffffff"} and frame["machine_fingerprint"].nunique() == 2
    assert set(frame["source_store"].map(lambda p: Path(p).name)) == {"a.sqlite", "b.sqlite"}


def test_json_rows(two_stores: tuple[Path, Path, FakeWorkspace]) -> None:
    first, _, ws = two_stores
    proc = run_cli("results", "--store", first, "--json", cwd=ws.root)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 2 and {r["repetition"] for r in rows} == {0, 1}


@pytest.mark.parametrize("args, code", [
    (["--store", "nowhere.sqlite"], 11),
    (["--run", "no-such-run"], 11),
    (["--export", "out.xlsx"], 11),
])
def test_bad_input_is_one_line(two_stores: tuple[Path, Path, FakeWorkspace], args: list[str], code: int) -> None:
    first, _, ws = two_stores
    store = [] if "--store" in args else ["--store", str(first)]
    assert_one_error_line(run_cli("results", *store, *args, cwd=ws.root), code)


def test_usage_errors_are_one_line() -> None:
    for args in (["nosuch"], ["run", "--suite"], ["generate", "--model", "x"]):
        proc = run_cli(*args)
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "error:" in proc.stderr and "--help" in proc.stderr


def test_runtime_errors_fold_into_one_line() -> None:
    text = ("openvino-genai cannot load X on MULTI:CPU: Exception from src/inference/src/cpp/core.cpp:1:\n"
            "Exception from src/inference/src/dev/plugin.cpp:2:\nThe tensor element type is wrong\n\n")
    folded = one_line(text)
    assert "\n" not in folded and folded.endswith("The tensor element type is wrong")
    assert folded.startswith("openvino-genai cannot load X on MULTI:CPU")


def test_the_run_list_counts_skipped_cells_apart_from_failed_ones(tmp_path: Path) -> None:
    """A skipped cell (a prompt longer than the model's context) did not apply: it is no failure."""
    from support.stores import cell_rows

    from genai_harness.results.store import ResultStore

    store = tmp_path / "s.sqlite"
    skipped = {"status": "skipped", "error": "prompt of 5000 tokens + 32 new exceeds the model's context",
               "repetition": None, "ttft_ms": None}
    failed = {"status": "failed", "error": "boom", "repetition": None, "ttft_ms": None}
    ResultStore(store).append([
        *cell_rows(run_id="r1", n=2, job_id="nightly-3"),
        {**cell_rows(run_id="r1", n=1, workload_id="long", job_id="nightly-3")[0], **skipped},
        {**cell_rows(run_id="r1", n=1, workload_id="long2", job_id="nightly-3")[0], **skipped},
        {**cell_rows(run_id="r1", n=1, model_id="broken", job_id="nightly-3")[0], **failed},
    ])
    proc = run_cli("results", "--store", store)
    assert proc.returncode == 0, proc.stderr
    header, _rule, row = proc.stdout.splitlines()[:3]
    assert "failed cells" in header and "skipped cells" in header
    cells = dict(zip([h.strip() for h in header.split("  ") if h.strip()],
                     [v.strip() for v in row.split("  ") if v.strip()], strict=True))
    assert (cells["rows"], cells["failed cells"], cells["skipped cells"]) == ("5", "1", "2")
    assert cells["job"] == "nightly-3"  # the CI job the run belongs to (schema 7)
