"""The PostgreSQL store against a real PostgreSQL 15 server started for this module (see tests/support/postgres.py).

Same layout, versions and API as the SQLite store; many writer processes at once; merges without
duplicates; a server stopped mid-run; wrong credentials, an unreachable server, a newer schema;
and no password in any row or message.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from support import FakeWorkspace, assert_one_error_line, clean_env, run_cli, run_fake_cli
from support.postgres import LAB_PASSWORD, PostgresServer, available
from support.stores import assert_schema_frame, cell_rows, varied_rows

from genai_harness.errors import SchemaVersionError, StoreError
from genai_harness.results.query import ResultFilter
from genai_harness.results.schema import SCHEMA_VERSION
from genai_harness.results.store import ResultStore, load_results, open_store
from genai_harness.results.stores.postgres import PostgresStore

if available() is not None:
    pytest.skip(f"no PostgreSQL here: {available()}", allow_module_level=True)


@pytest.fixture
def url(server: PostgresServer) -> str:
    """A fresh, empty database (the store is created in it on first use)."""
    return server.url(server.new_database())


def test_round_trip_matches_sqlite(url: str, tmp_path: Path) -> None:
    pg = open_store(url)
    assert isinstance(pg, PostgresStore) and pg.schema_version == SCHEMA_VERSION
    lite = ResultStore(tmp_path / "s.sqlite")
    rows = cell_rows(recorded_at="2024-05-01T12:00:01+00:00")
    failed = {"run_id": "run-1", "status": "crashed", "error": "segfault", "recorded_at": "2024-05-01T12:00:02+00:00"}
    for store in (pg, lite):
        assert store.append(rows) == 3 and store.append([failed]) == 1
    df = pg.read()
    assert_schema_frame(df)
    pd.testing.assert_frame_equal(df, lite.read())
    assert pg.count() == 4 and pg.meta()["schema_version"] == str(SCHEMA_VERSION)
    # a filter runs in the query, with %s placeholders
    assert len(pg.read(ResultFilter(statuses="crashed"))) == 1
    assert len(pg.read(ResultFilter(model_ids="tiny-llm", since="2024-05-01"))) == 3
    assert pg.read(ResultFilter(model_ids="nosuch")).empty
    assert pg.read(columns=["run_id", "ttft_ms"]).columns.tolist() == ["run_id", "ttft_ms"]
    pg.record_plan("run-1", ["a", "b"])
    assert pg.planned_cells("run-1") == ["a", "b"]
    pg.check_writable()
    streamed = pd.concat(pg.iter_frames(batch=2), ignore_index=True)
    pd.testing.assert_frame_equal(streamed, df)


def test_a_read_joins_cells_and_blobs_as_sqlite_does(url: str, tmp_path: Path) -> None:
    """Cells read once and joined in pandas, blobs mapped to shared strings: the same frames as SQLite's."""
    pg, lite = open_store(url), ResultStore(tmp_path / "s.sqlite")
    for rows in varied_rows():
        pg.append(rows)
        lite.append(rows)
    for filter in (ResultFilter(), ResultFilter(machine_fingerprints="fp-b"), ResultFilter(since="2024-05-15")):
        for columns in (None, ["machine_profile", "e2e_ms", "runtime"]):
            expected = lite.read(filter, columns=columns)
            assert len(expected) > 0
            pd.testing.assert_frame_equal(pg.read(filter, columns=columns), expected)
            streamed = pd.concat(pg.iter_frames(filter, columns=columns, batch=5), ignore_index=True)
            pd.testing.assert_frame_equal(streamed, expected)


def test_cells_are_stored_once(url: str) -> None:
    store = open_store(url)
    store.append(cell_rows(n=5))
    store.append(cell_rows(n=5, run_id="run-2"))
    import psycopg

    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 10


def test_merge_sqlite_into_postgres_twice_writes_each_row_once(url: str, tmp_path: Path) -> None:
    a, b = ResultStore(tmp_path / "a.sqlite"), ResultStore(tmp_path / "b.sqlite")
    a.append(cell_rows(run_id="ra"))
    b.append(cell_rows(run_id="rb", n=4, machine_fingerprint="fp-b"))
    proc = run_cli("results", "--store", url, "--merge", tmp_path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "3 new row(s) of 3" in proc.stderr and "4 new row(s) of 4" in proc.stderr
    again = run_cli("results", "--store", url, "--merge", tmp_path / "a.sqlite", "--merge", url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 new row(s) of 3" in again.stderr and "0 new row(s) of 7" in again.stderr
    merged = open_store(url).read()
    assert len(merged) == 7
    assert sorted(merged["machine_fingerprint"].unique()) == ["fp-a", "fp-b"]
    # and back: the PostgreSQL rows into a fresh SQLite file are the same rows
    back = ResultStore(tmp_path / "back.sqlite")
    assert back.merge_from(open_store(url)) == 7 and back.merge_from(open_store(url)) == 0
    pd.testing.assert_frame_equal(back.read(), merged)


def test_an_old_sqlite_store_migrated_then_merged(url: str, tmp_path: Path) -> None:
    from test_results_store import make_v0_store  # type: ignore[attr-defined]

    path = tmp_path / "v0.sqlite"
    make_v0_store(path)
    assert open_store(url).merge_from(ResultStore(path, create=False)) == 1
    row = open_store(url).read().iloc[0]
    assert row["run_id"] == "old" and row["schema_version"] == 0 and row["ttft_ms"] == 9.0


WRITER = textwrap.dedent("""
    import sys
    from genai_harness.results.store import open_store
    url, writer, cells = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = open_store(url)
    for cell in range(cells):
        rows = [{"run_id": f"w{writer}", "status": "ok", "workload_id": f"c{cell}", "repetition": rep,
                 "machine_fingerprint": f"fp-{writer}", "machine_profile": {"cpu": "x" * 500},
                 "ttft_ms": float(rep)} for rep in range(5)]
        assert store.append(rows) == 5
""")


def test_eight_writer_processes_lose_nothing(url: str) -> None:
    open_store(url)  # created once; the writers also race to create it in the next test's database
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), "20"], env=clean_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    df = open_store(url).read(columns=["run_id", "workload_id"])
    assert len(df) == 8 * 20 * 5
    assert df.groupby("run_id").size().tolist() == [100] * 8


def test_eight_writers_racing_to_create_the_store(server: PostgresServer) -> None:
    url = server.url(server.new_database())
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), "2"], env=clean_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert open_store(url).count() == 8 * 2 * 5


def test_server_stopped_mid_run_keeps_finished_cells(server: PostgresServer) -> None:
    url = server.url(server.new_database())
    open_store(url)
    slow = WRITER.replace("assert store.append(rows) == 5",
                          "assert store.append(rows) == 5\n    print('cell', cell, flush=True)\n"
                          "    __import__('time').sleep(0.05)")
    proc = subprocess.Popen([sys.executable, "-c", slow + textwrap.dedent("""
        """), url, "0", "100000"], env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for _ in range(5):
            proc.stdout.readline()
        server.stop("immediate")
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        server.start()
    assert proc.returncode != 0
    assert ("StoreError" in err and "cannot be reached" in err) or "terminat" in err, err
    count = open_store(url).count()
    assert count >= 25 and count % 5 == 0  # every finished cell whole, nothing half-written


def test_run_and_results_through_the_cli(server: PostgresServer, tmp_path: Path) -> None:
    db = server.new_database()
    url = server.tcp_url(db)
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    suite = ws.suite("s", [("w", ["fake-ok"])])
    proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--store", url,
                        cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert LAB_PASSWORD not in proc.stderr + proc.stdout
    assert "lab:***@" in proc.stderr
    listing = run_cli("results", "--json", cwd=tmp_path, env=clean_env(GENAI_HARNESS_STORE=url))
    assert listing.returncode == 0, listing.stderr
    assert LAB_PASSWORD not in listing.stdout + listing.stderr
    frame = load_results(url)
    assert len(frame) == 2 and set(frame["status"]) == {"ok"}
    assert frame["source_store"].iloc[0] == url.replace(LAB_PASSWORD, "***")


def test_wrong_password_is_one_line_without_the_secret(server: PostgresServer, tmp_path: Path) -> None:
    url = server.tcp_url(server.new_database(), password="wrong-Secret-42")
    proc = run_cli("results", "--store", url, cwd=tmp_path)
    line = assert_one_error_line(proc)
    assert "wrong-Secret-42" not in proc.stderr + proc.stdout
    assert "password authentication failed" in line and "lab:***@" in line


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://lab:hunter2-pw@127.0.0.1:{port}/nodb"
    started = time.monotonic()
    proc = run_cli("results", "--store", url, cwd=tmp_path)
    line = assert_one_error_line(proc)
    assert "cannot be reached" in line and "hunter2-pw" not in proc.stderr
    assert time.monotonic() - started < 60


def test_newer_schema_is_refused(url: str) -> None:
    open_store(url)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SchemaVersionError, match="upgrade genai-harness"):
        open_store(url)


def test_a_schema_3_store_is_read_then_migrated_in_place(url: str) -> None:
    """Schema 4 adds two nullable cell columns: PostgreSQL migrates by ALTER TABLE, rows keep their identity."""
    import psycopg

    rows = cell_rows(run_id="r3", recorded_at="2024-05-01T12:01:00+00:00")
    open_store(url).append(rows)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE cells DROP COLUMN runtime, DROP COLUMN itl_by_position_ms")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    old = open_store(url)
    assert old.schema_version == 3
    before = old.read()
    assert before["runtime"].isna().all()
    with pytest.raises(SchemaVersionError, match="--migrate"):
        old.append(cell_rows(run_id="r4"))
    migrated = open_store(url, migrate=True)
    assert migrated.schema_version == SCHEMA_VERSION and migrated.read().equals(before)
    assert migrated.append(rows) == 0  # the same rows: the same identity as before
    assert migrated.append(cell_rows(run_id="r4", runtime="openvino")) == 3


def test_a_database_without_a_store_is_refused_when_reading(url: str) -> None:
    with pytest.raises(StoreError, match="no results store in"):
        open_store(url, create=False)


def test_unknown_schemes_are_refused(tmp_path: Path) -> None:
    for spec in ("mysql://u:pw@h/db", "s3://bucket/x.sqlite"):
        with pytest.raises(StoreError, match="unknown scheme") as info:
            open_store(spec)
        assert "pw@" not in str(info.value)
    proc = run_cli("results", "--store", "mysql://u:topsecret@h/db", cwd=tmp_path)
    assert "unknown scheme" in assert_one_error_line(proc) and "topsecret" not in proc.stderr
    proc = run_cli("run", "--store", "mysql://h/db", cwd=tmp_path)
    assert "unknown scheme" in assert_one_error_line(proc)
    assert list(tmp_path.iterdir()) == []  # no folder named after the URL
