"""The SQLite results store: round trip, schema versions, foreign files, merging stores."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support.stores import assert_schema_frame, cell_rows, make_v0_store

from genai_harness.errors import SchemaVersionError, StoreError
from genai_harness.results.schema import COLUMN_NAMES, SCHEMA_VERSION
from genai_harness.results.store import ResultStore, expand_json, load_results


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "store.sqlite"
    store = ResultStore(path)
    assert path.is_file()
    assert store.append(cell_rows()) == 3
    failed = {"run_id": "run-1", "status": "crashed", "error": "segfault", "error_type": "CellError"}
    assert store.append([failed]) == 1
    df = store.read()
    assert_schema_frame(df)
    assert len(df) == 4 and store.count() == 4
    assert df["repetition"].tolist()[:3] == [0, 1, 2] and df["repetition"].isna().tolist()[3]
    assert df["e2e_ms"].tolist()[:3] == [100.0, 101.0, 102.0]
    assert json.loads(df["device_options"][0]) == {"intra_op_num_threads": 4}
    assert df["run_started_at"][0] == pd.Timestamp("2024-05-01T12:00:00Z")
    assert df["recorded_at"].notna().all() and (df["harness_version"] == "0.1.0").all()
    assert (df["schema_version"] == SCHEMA_VERSION).all()
    assert df["status"].tolist() == ["ok", "ok", "ok", "crashed"]
    assert df["error"][3] == "segfault" and pd.isna(df["ttft_ms"][3])
    meta = store.meta()
    assert meta["schema_version"] == str(SCHEMA_VERSION) and "created_at" in meta and "harness_version" in meta
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_read_filters_by_run_and_empty_store_has_schema(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    assert_schema_frame(store.read())
    store.append(cell_rows("run-1", 2))
    store.append(cell_rows("run-2", 3))
    assert len(store.read(run_id="run-2")) == 3
    assert len(ResultStore(tmp_path / "s.sqlite").read()) == 5


def test_a_bad_row_writes_none_of_its_cell(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    rows = cell_rows()
    rows[2]["ttft_msec"] = 1.0
    with pytest.raises(StoreError, match="ttft_msec"):
        store.append(rows)
    assert store.count() == 0


def test_importing_the_store_imports_no_pandas() -> None:
    code = "import sys, genai_harness.results.store as s, genai_harness.results; assert 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    ResultStore(path).append(cell_rows())
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SchemaVersionError, match=rf"version {SCHEMA_VERSION + 1}.*upgrade genai-harness"):
        ResultStore(path)


def test_missing_version_and_foreign_database_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    ResultStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="no schema_version"):
        ResultStore(path)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (name TEXT)")
    with pytest.raises(SchemaVersionError, match="not a genai-harness results store"):
        ResultStore(other)


def test_garbage_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"\x00\xffnot sqlite at all\x13" * 200)
    with pytest.raises(StoreError, match=r"garbage\.sqlite") as info:
        ResultStore(path)
    assert not isinstance(info.value, SchemaVersionError)
    with pytest.raises(StoreError, match="no results store"):
        ResultStore(tmp_path / "missing.sqlite", create=False)


def test_older_store_reads_with_missing_columns_and_migrates_on_request(tmp_path: Path) -> None:
    path = tmp_path / "v0.sqlite"
    make_v0_store(path)
    store = ResultStore(path)
    assert store.schema_version == 0
    df = store.read()
    assert_schema_frame(df)
    assert df["ttft_ms"].tolist() == [9.0]
    assert df["itl_p90_ms"].isna().all() and df["native_metrics"].isna().all()
    with pytest.raises(SchemaVersionError, match=r"version 0.*migrate=True"):
        store.append(cell_rows())
    assert store.count() == 1

    migrated = ResultStore(path, migrate=True)
    assert migrated.schema_version == SCHEMA_VERSION
    assert migrated.meta()["schema_version"] == str(SCHEMA_VERSION)
    assert migrated.meta()["migrated_from"] == "0"
    migrated.append(cell_rows(native_metrics={"ttft": 1.0}, itl_p90_ms=3.0))
    df = ResultStore(path).read()
    assert_schema_frame(df)
    assert df["schema_version"].tolist() == [0, SCHEMA_VERSION, SCHEMA_VERSION, SCHEMA_VERSION]
    assert df["itl_p90_ms"].isna().tolist() == [True, False, False, False]
    assert json.loads(df["native_metrics"][1]) == {"ttft": 1.0}


def test_expand_json(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.append(cell_rows(n=2, native_metrics={"ttft": {"mean": 1.5}, "tokens": 7}))
    store.append([{"run_id": "run-1", "status": "failed"}])
    df = expand_json(store.read(), "native_metrics")
    assert "native_metrics" not in df.columns
    assert df["native_metrics.ttft.mean"].tolist()[:2] == [1.5, 1.5]
    assert df["native_metrics.tokens"].isna().tolist() == [False, False, True]
    with pytest.raises(StoreError, match="no column"):
        expand_json(df, "nope")


def test_load_results_merges_stores_from_two_machines(tmp_path: Path) -> None:
    a = ResultStore(tmp_path / "a" / "laptop.sqlite")
    b = ResultStore(tmp_path / "b" / "desktop.sqlite")
    a.append(cell_rows("run-a", 2))
    b.append(cell_rows("run-b", 3, machine_fingerprint="fp-b", hostname="host-b"))
    df = load_results([a.path, tmp_path / "b"])
    assert list(df.columns) == [*COLUMN_NAMES, "source_store"]
    assert str(df["source_store"].dtype) == "string"
    assert df.groupby("machine_fingerprint")["hostname"].unique().to_dict() == {"fp-a": ["host-a"], "fp-b": ["host-b"]}
    assert df["source_store"].value_counts().to_dict() == {str(b.path): 3, str(a.path): 2}
    assert len(load_results(str(a.path))) == 2
    assert len(load_results([a.path, a.path])) == 2
    with pytest.raises(StoreError, match="no results store"):
        load_results(tmp_path / "nowhere.sqlite")
    with pytest.raises(StoreError, match="holds no results store"):
        load_results(tmp_path)
    with pytest.raises(StoreError):
        load_results([])


def test_filter_is_applied_in_the_query_and_columns_can_be_limited(tmp_path: Path) -> None:
    from genai_harness.results.query import ResultFilter

    store = ResultStore(tmp_path / "s.sqlite")
    store.append(cell_rows())
    store.append([{**r, "run_id": "other", "model_id": "m2"} for r in cell_rows()])
    only = store.read(ResultFilter(run_ids="other"), columns=["run_id", "model_id", "ttft_ms"])
    assert list(only.columns) == ["run_id", "model_id", "ttft_ms"]
    assert set(only["run_id"]) == {"other"} and set(only["model_id"]) == {"m2"}
    assert len(store.read(ResultFilter(model_ids=["nope"]))) == 0
    assert len(store.read(ResultFilter(since="2999-01-01T00:00:00Z"))) == 0
    assert len(store.read()) == 2 * len(cell_rows())


def test_planned_cells_and_writability(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.check_writable()
    store.record_plan("r1", ["a | w | m", "b | w | m"])
    assert store.planned_cells("r1") == ["a | w | m", "b | w | m"]
    assert store.planned_cells("r2") == []
