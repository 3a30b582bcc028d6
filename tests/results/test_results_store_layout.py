"""The schema-3 SQLite layout: cells stored once, stable row identity, store specs, and the file system's refusals
(an immutable folder or file, a full disk) reported as what they are."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from support import run_cli
from support.stores import cell_rows, immutable, make_normalized_store, make_v0_store, make_v3_store, varied_rows

from genai_harness.errors import SchemaVersionError, StoreError
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.schema import SCHEMA_VERSION
from genai_harness.results.store import ResultStore, load_results, mask_url, open_store, resolve_store_spec
from genai_harness.results.stores.reading import check_columns, frame
from genai_harness.results.stores.sqlite import SQLiteStore


def test_a_cell_is_stored_once_and_rows_stay_small(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    profile = {"cpu": "x" * 2000}
    for run in range(3):
        store.append(cell_rows(run_id=f"r{run}", n=50, machine_profile=profile))
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 3
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 150
        assert "machine_profile" not in {r[1] for r in conn.execute("PRAGMA table_info(results)")}
    assert (store.read()["machine_profile"].str.len() > 2000).all()


def test_merging_a_store_twice_writes_each_row_once(tmp_path: Path) -> None:
    a, b = ResultStore(tmp_path / "a.sqlite"), ResultStore(tmp_path / "b.sqlite")
    a.append(cell_rows(run_id="ra"))
    b.append(cell_rows(run_id="rb"))
    target = ResultStore(tmp_path / "all.sqlite")
    assert target.merge_from(a) == 3 and target.merge_from(b) == 3
    assert target.merge_from(a) == 0 and target.merge_from(target) == 0
    assert target.count() == 6
    assert target.read().drop(columns=[]).equals(load_results([a.path, b.path]).drop(columns=["source_store"]))


def test_row_identity_survives_a_migration(tmp_path: Path) -> None:
    path = tmp_path / "v0.sqlite"
    make_v0_store(path)
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)
    migrated = ResultStore(copy, migrate=True)
    assert migrated.schema_version == SCHEMA_VERSION
    target = ResultStore(tmp_path / "t.sqlite")
    assert target.merge_from(ResultStore(path, create=False)) == 1  # read as schema 0
    assert target.merge_from(migrated) == 0  # the same row, migrated: the same identity


def test_a_url_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a URL, not a file"):
        ResultStore("postgresql://u@h/db")
    with pytest.raises(StoreError, match="unknown scheme ftp://"):
        open_store("ftp://u:pw@h/x.sqlite")
    with pytest.raises(StoreError, match="unknown scheme"):
        load_results(["ftp://h/x"])


def test_passwords_are_masked() -> None:
    assert mask_url("postgresql://lab:pw@h:5432/db") == "postgresql://lab:***@h:5432/db"
    assert mask_url("postgresql://lab@/db?host=/run/pg&password=pw&port=5") == \
        "postgresql://lab@/db?host=/run/pg&password=***&port=5"
    assert mask_url("results/x.sqlite") == "results/x.sqlite"


def test_the_store_spec_falls_back_on_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GENAI_HARNESS_STORE", raising=False)
    assert resolve_store_spec(None, "d.sqlite") == "d.sqlite"
    monkeypatch.setenv("GENAI_HARNESS_STORE", str(tmp_path / "env.sqlite"))
    assert resolve_store_spec(None, "d.sqlite") == str(tmp_path / "env.sqlite")
    assert resolve_store_spec("given.sqlite", "d.sqlite") == "given.sqlite"
    assert open_store().location == str(tmp_path / "env.sqlite")


def test_a_wal_store_in_an_immutable_folder_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    store = ResultStore(folder / "s.sqlite")
    store.append(cell_rows())
    assert store.meta() and not (folder / "s.sqlite-wal").exists()  # WAL mode, log merged on close
    with immutable(folder):
        readonly = ResultStore(folder / "s.sqlite", create=False)
        assert len(readonly.read()) == 3 and readonly.count() == 3
        with pytest.raises(StoreError, match="folder is read-only or immutable"):
            readonly.check_writable()
    assert not (folder / "s.sqlite-shm").exists()


def test_an_unmerged_log_in_an_immutable_folder_says_why(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.append(cell_rows())
    folder = tmp_path / "copy"
    folder.mkdir()
    holder = sqlite3.connect(store.path, isolation_level=None)  # keeps the log unmerged while the files are copied
    try:
        holder.execute("PRAGMA wal_autocheckpoint = 0")
        holder.execute("INSERT INTO meta (key, value) VALUES ('note', 'x')")
        for name in ("s.sqlite", "s.sqlite-wal"):
            shutil.copy(tmp_path / name, folder / name)
    finally:
        holder.close()
    assert (folder / "s.sqlite-wal").stat().st_size > 0
    with immutable(folder), pytest.raises(StoreError, match="unmerged write-ahead log"):
        ResultStore(folder / "s.sqlite", create=False)


def test_an_immutable_store_file_is_refused_before_writing(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.append(cell_rows())
    with immutable(store.path):
        with pytest.raises(StoreError, match="file is read-only or immutable"):
            store.check_writable()
        with pytest.raises(StoreError, match="cannot be written"):
            store.append(cell_rows(run_id="more"))
        assert store.count() == 3


class _SmallDisk(SQLiteStore):
    """A store whose file may not grow past its current size: SQLite's own 'database or disk is full'."""

    pages = 0

    def _raw_connect(self, write: bool) -> sqlite3.Connection:
        conn = super()._raw_connect(write)
        if self.pages:
            conn.execute(f"PRAGMA max_page_count = {self.pages}")
        return conn


def test_a_full_disk_is_reported_as_such_and_keeps_the_rows(tmp_path: Path) -> None:
    store = _SmallDisk(tmp_path / "s.sqlite")
    store.append(cell_rows())
    with sqlite3.connect(store.path) as conn:
        store.pages = conn.execute("PRAGMA page_count").fetchone()[0]
    big = cell_rows(run_id="big", n=200, error="e" * 4000)
    with pytest.raises(StoreError) as info:
        store.append(big)
    assert "database or disk is full" in str(info.value)
    assert "cannot rollback" not in str(info.value)
    store.pages = 0
    assert store.count() == 3


def test_a_schema_3_store_is_read_as_it_is_and_migrated_by_adding_columns(tmp_path: Path) -> None:
    path, copy = tmp_path / "v3.sqlite", tmp_path / "copy.sqlite"
    make_v3_store(path, cell_rows(run_id="r3"))
    shutil.copy(path, copy)
    old = ResultStore(path, create=False)
    assert old.schema_version == 3
    before = old.read()
    assert before["runtime"].isna().all() and before["itl_by_position_ms"].isna().all()
    migrated = ResultStore(copy, migrate=True)
    assert migrated.schema_version == SCHEMA_VERSION >= 5
    assert migrated.meta()["migrated_from"] == "3"
    assert migrated.read().equals(before)  # every row and value kept; the new columns null
    # the same rows keep their identity: merging the schema-3 original into the migrated copy adds nothing
    assert migrated.merge_from(old) == 0
    # and the migrated store takes rows with the new columns
    assert migrated.append(cell_rows(run_id="r4", runtime="openvino", itl_by_position_ms=[1.0, 2.0])) == 3
    # schema 5: a cell column (family) and row columns (ref_source, ref_error) the migration added
    assert migrated.append(cell_rows(run_id="r5", family="smollm2-135m", ref_source="float32 checkpoint",
                                     ref_error="why not")) == 3
    fresh = migrated.read()
    r5 = fresh[fresh["run_id"] == "r5"]
    assert r5["family"].eq("smollm2-135m").all() and r5["ref_error"].eq("why not").all()
    assert fresh.loc[fresh["run_id"] == "r3", "family"].isna().all()
    assert fresh.loc[fresh["run_id"] == "r4", "runtime"].eq("openvino").all()
    assert fresh.loc[fresh["run_id"] == "r4", "itl_by_position_ms"].eq("[1.0, 2.0]").all()


def test_a_schema_4_store_gains_the_three_precisions_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path, copy = tmp_path / "v4.sqlite", tmp_path / "copy.sqlite"
    make_normalized_store(path, cell_rows(run_id="r4", runtime="openvino"), 4)
    shutil.copy(path, copy)
    old = ResultStore(path, create=False)
    assert old.schema_version == 4
    before = old.read()
    assert before["weight_precision"].isna().all() and before["kv_cache_precision"].isna().all()
    migrated = ResultStore(copy, migrate=True)
    assert migrated.schema_version == SCHEMA_VERSION and migrated.meta()["migrated_from"] == "4"
    assert migrated.read().equals(before)
    assert migrated.merge_from(old) == 0  # the same rows keep their identity
    assert migrated.append(cell_rows(run_id="r5", weight_precision="int4 asym, group 128 (u4)",
                                     kv_cache_precision="int8", precision="f32")) == 3
    fresh = migrated.read()
    new = fresh[fresh["run_id"] == "r5"]
    assert new["weight_precision"].eq("int4 asym, group 128 (u4)").all() and new["kv_cache_precision"].eq("int8").all()


def test_a_schema_5_store_gains_the_cold_start_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path, copy = tmp_path / "v5.sqlite", tmp_path / "copy.sqlite"
    make_normalized_store(path, cell_rows(run_id="r5", weight_precision="float32"), 5)
    shutil.copy(path, copy)
    old = ResultStore(path, create=False)
    before = old.read()
    cold_columns = ["compile_s", "load_cold_s", "load_warm_s", "cache_mib", "cache_key", "cache_hit"]
    assert old.schema_version == 5 and before[cold_columns].isna().all().all()  # read as null from an older store
    migrated = ResultStore(copy, migrate=True)
    assert migrated.schema_version == SCHEMA_VERSION and migrated.meta()["migrated_from"] == "5"
    assert migrated.read().equals(before) and migrated.merge_from(old) == 0  # same rows, same identity
    assert migrated.append(cell_rows(run_id="r6", compile_s=2.5, load_cold_s=3.0, load_warm_s=0.5, cache_mib=12.0,
                                     cache_key="openvino_2026/CPU/m-1", cache_state="cold", cache_hit=1)) == 3
    new = migrated.read().query("run_id == 'r6'")
    assert new["load_cold_s"].eq(3.0).all() and new["cache_hit"].eq(1).all() and new["cache_state"].eq("cold").all()


def test_results_migrate_upgrades_a_schema_3_store_on_request(tmp_path: Path) -> None:

    path = tmp_path / "v3.sqlite"
    make_v3_store(path, cell_rows(run_id="r3"))
    proc = run_cli("results", "--store", path, "--migrate")
    assert proc.returncode == 0, proc.stderr
    assert f"upgraded from schema version 3 to schema version {SCHEMA_VERSION} (3 rows)" in proc.stderr
    assert ResultStore(path, create=False).schema_version == SCHEMA_VERSION
    again = run_cli("results", "--store", path, "--migrate")
    assert again.returncode == 0 and f"already at schema version {SCHEMA_VERSION}" in again.stderr
    missing = run_cli("results", "--migrate")
    assert missing.returncode != 0 and "--migrate needs the store" in missing.stderr


def test_a_run_into_a_schema_3_store_upgrades_it_first_and_keeps_its_rows(tmp_path: Path) -> None:
    """Schema 3 to 5 only adds nullable columns: a run applies it itself, says so, and appends."""
    import io

    from support import FakeWorkspace, fake_registered

    from genai_harness.runner.benchmark import run

    path = tmp_path / "v3.sqlite"
    make_v3_store(path, cell_rows(run_id="r3"))
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    said = io.StringIO()
    with fake_registered():
        frame = run(str(ws.suite("s", [("w", ["fake-ok"])])), frameworks=["fake"], devices=["CPU"], store=path,
                    config=ws.config, progress=False, stream=said)
    text = said.getvalue()
    assert "upgraded results store" in text and f"from schema version 3 to {SCHEMA_VERSION}" in text
    store = ResultStore(path, create=False)
    assert store.schema_version == SCHEMA_VERSION and store.count() == 3 + len(frame)
    assert frame["runtime"].eq("fake").all()


def row_wise_read(store: SQLiteStore, filter: ResultFilter, columns: list[str] | None) -> pd.DataFrame:
    """The store's rows read the way schema 3 first read them: one query, every cell column per row."""
    wanted = check_columns(columns)
    with store._connect() as conn:
        sql, params, names = store._select(conn, filter, wanted)
        records = store._fetchall(conn, sql, params)
    return frame(records, names, wanted, store.location)


@pytest.mark.parametrize("columns", [None, ["run_id", "ttft_ms", "machine_profile"], ["e2e_ms"], ["hostname"]])
@pytest.mark.parametrize("filter", [ALL_ROWS, ResultFilter(statuses="crashed"),
                                    ResultFilter(machine_fingerprints="fp-a", model_ids="tiny-llm"),
                                    ResultFilter(since="2024-05-15"), ResultFilter(model_ids="nosuch")])
def test_cells_are_joined_in_pandas_with_the_same_result(tmp_path: Path, filter: ResultFilter,
                                                         columns: list[str] | None) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    for rows in varied_rows():
        store.append(rows)
    expected = row_wise_read(store, filter, columns)
    pd.testing.assert_frame_equal(store.read(filter, columns=columns), expected)
    streamed = list(store.iter_frames(filter, columns=columns, batch=3))
    if len(expected):
        assert len(streamed) == -(-len(expected) // 3)
        pd.testing.assert_frame_equal(pd.concat(streamed, ignore_index=True), expected)
    assert len(expected) == {ALL_ROWS: 12, ResultFilter(statuses="crashed"): 1}.get(filter, len(expected))


def test_a_schema_3_store_read_in_pandas_has_the_new_columns_null(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite"
    make_v3_store(path, [row for rows in varied_rows()[:2] for row in rows])
    store = ResultStore(path, create=False)
    pd.testing.assert_frame_equal(store.read(), row_wise_read(store, ALL_ROWS, None))
    assert store.read(columns=["runtime", "e2e_ms"])["runtime"].isna().all()


def test_a_row_whose_cell_is_missing_is_reported_as_corrupt() -> None:
    from genai_harness.results.stores.frames import assemble

    cells = [(1, "run-1", None)]
    assert assemble([(1, 5.0)], ["e2e_ms"], cells, ["run_id", "machine_profile"], ["machine_profile"], {},
                    ["run_id", "e2e_ms"])["run_id"].tolist() == ["run-1"]
    with pytest.raises(StoreError, match=r"store s\.sqlite holds values that do not fit its schema .*not in the store"):
        assemble([(1, 5.0), (2, 6.0)], ["e2e_ms"], cells, ["run_id", "machine_profile"], ["machine_profile"], {},
                 ["run_id", "e2e_ms"], "store s.sqlite")
    with pytest.raises(StoreError, match="machine_profile refers to blob 7, which is not in the store"):
        assemble([(1, 5.0)], ["e2e_ms"], [(1, "run-1", 7)], ["run_id", "machine_profile"], ["machine_profile"], {},
                 ["run_id", "e2e_ms"])


def test_a_schema_5_store_gains_calib_ms_and_keeps_its_rows(tmp_path: Path) -> None:
    path, copy = tmp_path / "v5.sqlite", tmp_path / "copy.sqlite"
    make_normalized_store(path, cell_rows(run_id="r5"), 5)
    shutil.copy(path, copy)
    old = ResultStore(path, create=False)
    assert old.schema_version == 5
    before = old.read()
    assert before["calib_ms"].isna().all()
    migrated = ResultStore(copy, migrate=True)
    assert migrated.schema_version == SCHEMA_VERSION >= 6 and migrated.meta()["migrated_from"] == "5"
    assert migrated.read().equals(before)
    assert migrated.merge_from(old) == 0  # the same rows keep their identity
    assert migrated.append(cell_rows(run_id="r6", calib_ms=12.5)) == 3
    fresh = migrated.read()
    assert fresh.loc[fresh["run_id"] == "r6", "calib_ms"].eq(12.5).all()


def test_a_store_that_claims_a_version_whose_columns_it_lacks_reads_as_what_it_holds(tmp_path: Path) -> None:
    """A store a development build wrote at the current version number, before a column of it was added: it reads
    as the newest version whose columns it holds, and `results --migrate` adds the rest (it said "already at" once)."""
    path = tmp_path / "dev.sqlite"
    ResultStore(path).append(cell_rows(run_id="dev"))
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE cells DROP COLUMN job_id")
        conn.execute("ALTER TABLE results DROP COLUMN calib_ms")
    store = ResultStore(path, create=False)
    assert store.schema_version == 5 and store.read()["run_id"].eq("dev").all()
    proc = run_cli("results", "--store", str(path), "--migrate")
    assert proc.returncode == 0 and f"to schema version {SCHEMA_VERSION}" in proc.stderr, proc.stderr
    migrated = ResultStore(path, create=False)
    assert migrated.schema_version == SCHEMA_VERSION and migrated.read()["job_id"].isna().all()
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE cells DROP COLUMN task")
    with pytest.raises(SchemaVersionError, match=r"lack column.*task"):
        ResultStore(path, create=False)
