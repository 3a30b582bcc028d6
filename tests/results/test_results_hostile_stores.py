"""A store file from elsewhere is data, never a program: reading never writes it, triggers and views are refused
before anything is written, SQLite work it makes long still ends on a signal or a deadline, and no value over
the cap is read or written (issue 24, point 5; point 10's read-only folder)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, assert_one_error_line, isolated_env, run_cli
from support.stores import cell_rows, immutable

from genai_harness.errors import StoreError
from genai_harness.results.store import ResultStore, open_store
from genai_harness.results.stores import guard

RECURSIVE = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
             "SELECT n AS id, 'x' AS run_id FROM r")
"""A query that never ends (an infinitely recursive common table expression)."""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tableless(path: Path) -> Path:
    """A valid SQLite file with no table in it (a header, one page)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 7")  # writes the header page
    return path


def with_sql(path: Path, *statements: str) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for statement in statements:
            conn.execute(statement)
    return path


READERS = [
    ("results", "--store", "{s}"),
    ("results", "--store", "{s}", "--run", "last"),
    ("results", "--store", "{s}", "--export", "{d}/out.parquet"),
    ("results", "--merge", "{s}", "--store", "{d}/target.sqlite"),
    ("report", "--store", "{s}", "--out", "{d}/report.html"),
    ("compare", "{s}", "{s}"),
    ("pick", "--store", "{s}", "--task", "text2text", "--model", "tiny-llm", "--objective", "latency"),
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_a_tableless_file_is_refused_by_every_reader_and_left_byte_identical(tmp_path: Path,
                                                                             command: tuple[str, ...]) -> None:
    store = tableless(tmp_path / "empty.sqlite")
    before, names_before = digest(store), sorted(p.name for p in tmp_path.iterdir())
    proc = run_cli(*(part.format(s=store, d=tmp_path) for part in command), cwd=tmp_path)
    line = assert_one_error_line(proc, 11)
    assert "not a genai-harness store" in line
    assert digest(store) == before  # no schema written, no switch to WAL
    assert sqlite3.connect(f"file:{store}?mode=ro", uri=True).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == names_before  # no -wal, no merge target, no output


def test_a_reader_opens_the_file_read_only(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    reader = open_store(store, create=False)
    with pytest.raises(StoreError, match="opened to read"):
        reader.append(cell_rows("run-2"))
    assert reader.count() == 3


def test_a_trigger_is_refused_before_a_run_writes_and_the_earlier_rows_survive(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    with_sql(store, "CREATE TRIGGER wipe AFTER INSERT ON results BEGIN DELETE FROM results; DELETE FROM cells; END")
    before = digest(store)
    with pytest.raises(StoreError, match=r"trigger 'wipe' on results.*nothing was read or written"):
        open_store(store)  # what `run --store` opens first
    proc = run_cli("run", "--suite", "smoke", "--model", "tiny-llm", "--store", store, cwd=tmp_path)
    assert "trigger 'wipe'" in assert_one_error_line(proc, 11)
    assert digest(store) == before
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 3


@pytest.mark.parametrize("statement, named", [
    ("CREATE VIEW planned AS SELECT * FROM cells", "view 'planned'"),
    ("CREATE INDEX sneaky ON results (cell_id, repetition)", "index 'sneaky' on results"),
    ("ALTER TABLE cells ADD COLUMN huge TEXT AS (zeroblob(1000000000)) VIRTUAL", "generated column cells.huge"),
])
def test_anything_the_harness_did_not_create_is_refused_by_name(tmp_path: Path, statement: str, named: str) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    with_sql(store, statement)
    proc = run_cli("results", "--store", store, cwd=tmp_path)
    assert named in assert_one_error_line(proc, 11)


def test_a_table_the_harness_never_touches_is_ignored(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    with_sql(store, "CREATE TABLE my_notes (text TEXT)", "CREATE INDEX my_notes_text ON my_notes (text)")
    assert open_store(store, create=False).count() == 3


def test_a_recursive_view_named_cells_ends_with_one_line(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    with_sql(store, "DROP TABLE cells", f"CREATE VIEW cells AS {RECURSIVE}")
    for command in (("results", "--store", store), ("results", "--merge", store, "--store", tmp_path / "t.sqlite")):
        proc = run_cli(*command, cwd=tmp_path, timeout=60)
        assert "view 'cells'" in assert_one_error_line(proc, 11)


SPIN = """
import sys
from genai_harness.results.store import open_store
store = open_store(sys.argv[1], create=False)
with store._connect() as conn:
    print("spinning", flush=True)
    conn.execute({query!r}).fetchall()
"""


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_sqlite_work_that_never_ends(tmp_path: Path, signum: int, code: int) -> None:
    """A real never-ending query in a real subprocess: SIGTERM and Ctrl-C end it as they end any command."""
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    script = ("from genai_harness.runner.signals import signals_interrupt\n"
              "import sys\n"
              "try:\n"
              "    with signals_interrupt():\n"
              + "".join(f"        {line}\n" for line in SPIN.format(query=f"SELECT count(*) FROM ({RECURSIVE})")
                        .strip().splitlines())
              + "except KeyboardInterrupt as exc:\n"
                "    print('ended by', type(exc).__name__, flush=True)\n"
                "    sys.exit(getattr(exc, 'exit_code', 130))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(store)], cwd=REPO, env=isolated_env(REPO, None),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "spinning"  # the recorded condition: the query is about to run
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, (out, err)
    assert "ended by" in out and "Traceback" not in err, (out, err)


DEFERRED_WRITE = """
import sys
from genai_harness.results.store import open_store
from genai_harness.runner.signals import signals_deferred, signals_interrupt
store = open_store(sys.argv[1])
try:
    with signals_interrupt(), signals_deferred(), store._connect(write=True) as conn:
        print("writing", flush=True)
        conn.execute("INSERT INTO meta (key, value) WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
                     "WHERE n < 2000000) SELECT 'k' || n, 'v' FROM r")
except KeyboardInterrupt as exc:
    print("ended by", type(exc).__name__, flush=True)
    sys.exit(exc.exit_code)
"""


def test_a_signal_during_a_deferred_write_lets_the_write_finish_first(tmp_path: Path) -> None:
    """The runner defers signals while it writes a finished cell: the progress handler must not cut that write."""
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    proc = subprocess.Popen([sys.executable, "-c", DEFERRED_WRITE, str(store)], cwd=REPO,
                            env=isolated_env(REPO, None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143 and "ended by Terminated" in out, (out, err)
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM meta WHERE key LIKE 'k%'").fetchone()[0] == 2_000_000


def test_a_signal_with_the_default_action_still_ends_the_process(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    code = "import sys\n" + SPIN.format(query=f"SELECT count(*) FROM ({RECURSIVE})")
    proc = subprocess.Popen([sys.executable, "-c", code, str(store)], cwd=REPO, env=isolated_env(REPO, None),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "spinning"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM


def test_the_deadline_ends_sqlite_work_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    monkeypatch.setenv(guard.DEADLINE_ENV, "0.5")
    reader = open_store(store, create=False)
    with pytest.raises(StoreError, match=r"stopped after 0.5 s"), reader._connect() as conn:
        conn.execute(f"SELECT count(*) FROM ({RECURSIVE})").fetchall()


def test_signal_handlers_are_restored_after_reading(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    before = {s: signal.getsignal(s) for s in guard.HELD_SIGNALS}
    open_store(store, create=False).read()
    assert {s: signal.getsignal(s) for s in guard.HELD_SIGNALS} == before


capped = pytest.mark.skipif(not hasattr(sqlite3.Connection, "setlimit"), reason="Python 3.11+ sets the length limit")


def oversized_profile(store: Path, size: int) -> None:
    """Replace every blob's value with ``size`` bytes of JSON text, written by SQLite itself (no Python copy)."""
    with contextlib.closing(sqlite3.connect(store)) as conn, conn:
        conn.execute("UPDATE blobs SET value = '\"' || printf('%.*c', ?, 'x') || '\"'", (size - 2,))


@capped
def test_a_value_over_the_cap_is_refused_on_read_with_one_line(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    oversized_profile(store, guard.MAX_VALUE_BYTES + 1)
    proc = run_cli("results", "--store", store, cwd=tmp_path)
    assert "over 16 MiB" in assert_one_error_line(proc, 11)
    with pytest.raises(StoreError, match="over 16 MiB"):
        open_store(store, create=False).read()
    assert len(open_store(store, create=False).read(columns=["run_id", "ttft_ms"])) == 3  # the rest still reads


@capped
def test_a_value_at_the_cap_still_reads(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows())
    oversized_profile(store, guard.MAX_VALUE_BYTES)
    assert len(open_store(store, create=False).read()["machine_profile"].iloc[0]) == guard.MAX_VALUE_BYTES


@capped
def test_a_value_over_the_cap_is_refused_on_write(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.append(cell_rows())
    with pytest.raises(StoreError, match="over 16 MiB"):
        store.append(cell_rows("run-2", error="x" * (guard.MAX_VALUE_BYTES + 1), status="failed"))
    assert store.count() == 3


def test_a_new_store_in_a_read_only_folder_names_the_folder_and_the_cause(tmp_path: Path) -> None:
    """``chattr +i`` stops root too; an unprivileged user is stopped by the folder's mode alone."""
    source = tmp_path / "s.sqlite"
    ResultStore(source).append(cell_rows())
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    lock = immutable(folder) if os.geteuid() == 0 else contextlib.nullcontext()
    try:
        with lock:
            proc = run_cli("results", "--merge", source, "--store", folder / "new.sqlite", cwd=tmp_path)
    finally:
        folder.chmod(0o755)
    line = assert_one_error_line(proc, 11)
    assert str(folder) in line and "read-only" in line and "permission denied" in line
