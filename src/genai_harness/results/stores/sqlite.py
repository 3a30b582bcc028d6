"""The embedded results store: one SQLite file, appended one cell at a time.

Each :meth:`SQLiteStore.append` is one transaction, so a run killed mid-cell leaves all or none
of that cell's rows. The file is in WAL mode with a busy timeout, so several processes may append
to one store at once. A store in a folder this process cannot write is read as it is (immutable); a store opened
only to read (``create=False``, not migrating) is opened ``mode=ro``: reading never writes, not even the schema of
an empty file. Every connection is bounded (:mod:`.guard`): signals end SQLite work, no value over 16 MiB, and a
file holding triggers, views or anything else the harness did not create is refused before anything is read.
pandas is imported only by the readers, never by the run's parent process.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from genai_harness.errors import StoreError
from genai_harness.results.schema import SCHEMA_VERSION
from genai_harness.results.stores import guard
from genai_harness.results.stores.base import SQLStore

DEFAULT_STORE = Path("results/genai-harness.sqlite")
BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's transaction before giving up."""
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class SQLiteStore(SQLStore):
    """A genai-harness results store in the SQLite file ``path`` (created, with its folders, if absent).

    ``create=False`` refuses a missing file. A store of an older schema version reads fine;
    writing to it needs ``migrate=True``, which upgrades the file in place.
    """

    def __init__(self, path: str | Path, *, migrate: bool = False, create: bool = True) -> None:
        if isinstance(path, str) and _URL.match(path):
            raise StoreError(f"{path.split('://')[0]}:// is a URL, not a file; open it with "
                             "genai_harness.results.open_store(url) (postgresql:// is supported)")
        self.path = Path(path)
        self.location = str(self.path)
        self.read_only = not create and not migrate
        """Opened only to read (every reading command): the file is opened ``mode=ro``, nothing is ever written."""
        if not self.path.exists():
            if not create:
                raise StoreError(f"no results store at {self.path}; run a benchmark first or give the right path")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of results store {self.path}: {exc}") from exc
            folder = self.path.parent
            if not os.access(folder, os.W_OK | os.X_OK):
                raise StoreError(f"cannot create results store {self.path}: its folder {folder.resolve()} is "
                                 "read-only for this user (permission denied); give a --store in a writable folder "
                                 "or make the folder writable")
        elif self.path.is_dir():
            raise StoreError(f"results store {self.path} is a folder; give the path of a .sqlite file")
        elif not create and not _is_sqlite_file(self.path):  # reading never turns a file into a store
            raise StoreError(f"{self.path} is not a results store (not an SQLite file); "
                             "give the path of a store written by genai-harness")
        self.schema_version = self._open()
        if migrate and self.schema_version < SCHEMA_VERSION:
            self._migrate()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r}, schema_version={self.schema_version})"

    def _read_only_folder(self) -> bool:
        return self.path.exists() and not os.access(self.path.parent or Path("."), os.W_OK)

    def _raw_connect(self, write: bool) -> sqlite3.Connection:
        if not write and self._read_only_folder():
            wal = Path(f"{self.path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(
                    f"results store {self.path} has an unmerged write-ahead log ({wal.name}) in a folder this "
                    "process cannot write, so SQLite cannot read it safely; copy the folder somewhere writable")
            # No log to replay: read the file as it is, without the -shm file WAL mode would create.
            uri = f"file:{quote(str(self.path.resolve()))}?immutable=1"
            return sqlite3.connect(uri, uri=True, isolation_level=None)
        if self.read_only:  # a read never writes: no schema, no journal-mode switch, no checkpoint
            if write:
                raise StoreError(f"results store {self.path} was opened to read; open it with create=True or "
                                 "migrate=True to write")
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A short-lived autocommit connection; every SQLite failure becomes a StoreError naming the file."""
        conn = None
        try:
            conn = self._raw_connect(write)
            with guard.bounded(conn) as deadline:
                try:
                    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                    if write:
                        conn.execute("PRAGMA journal_mode = WAL")
                    yield conn
                except sqlite3.OperationalError as exc:
                    if "interrupt" in str(exc):
                        guard.raise_held()  # Ctrl-C or SIGTERM arrived while SQLite worked: it ends the command
                        if guard.past(deadline):
                            raise StoreError(
                                f"work on results store {self.path} was stopped after "
                                f"{os.environ.get(guard.DEADLINE_ENV)} s ({guard.DEADLINE_ENV}): a store from "
                                "elsewhere may hold data that never ends; nothing was written. Check the file or "
                                "raise the deadline") from None
                    raise
        except sqlite3.DatabaseError as exc:
            raise _store_error(self.path, exc) from exc
        except UnicodeDecodeError as exc:  # SQLite hands back corrupt text as it is
            raise StoreError(f"{self.path} is a corrupt results store (text that is not UTF-8: {exc.reason}); "
                             "restore it from a copy or move it away") from None
        finally:
            if conn is not None:
                conn.close()

    def _transaction(self, conn: Any, body: Callable[[Any], Any]) -> Any:
        """Run ``body(conn)`` inside BEGIN IMMEDIATE ... COMMIT, rolling back on any error.

        SQLite may already have rolled back (a full disk does): the rollback is then skipped, so the
        error the caller sees is the real one, not "cannot rollback - no transaction is active".
        """
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body(conn)
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _tables(self, conn: Any) -> set[str]:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _table_columns(self, conn: Any, table: str) -> set[str]:
        return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}

    def _open(self) -> int:
        """Create the tables in an empty file, else check it is a store of a version we read."""
        with self._connect() as conn:
            foreign = guard.foreign_objects(conn)  # the catalog only: nothing of the file runs before this
            if foreign:
                raise StoreError(
                    f"{self.path} holds what genai-harness never creates ({', '.join(foreign[:5])}"
                    f"{f' and {len(foreign) - 5} more' if len(foreign) > 5 else ''}); a store is data only, so "
                    "nothing was read or written. Use a store written by genai-harness, or inspect it "
                    f"(`sqlite3 {self.path} .schema`) and drop those if you trust the file")
            if not self._tables(conn):
                if self.read_only:
                    raise StoreError(f"{self.path} is an SQLite file but not a genai-harness store (it holds no "
                                     "tables); it was left as it is. Give the path of a store written by genai-harness")
                with self._connect(write=True) as wconn:
                    self._transaction(wconn, self._initialize)
            return self._read_version(conn)

    def check_writable(self) -> None:
        """Raise :class:`StoreError` unless a row could be written now (checked before any cell runs)."""
        if not os.access(self.path, os.W_OK) or not os.access(self.path.parent or Path("."), os.W_OK):
            what = "file" if not os.access(self.path, os.W_OK) else "folder"
            raise StoreError(f"results store {self.path} cannot be written (its {what} is read-only or immutable); "
                             "nothing was run. Give a writable --store, or make it writable")
        with self._connect(write=True) as conn:
            conn.execute("BEGIN IMMEDIATE")
            # A real write, rolled back: an immutable file can still be locked but not written.
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('writable_check', '1')")
            conn.execute("ROLLBACK")


def _is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` starts with SQLite's header (an empty or short file does not)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return True  # let SQLite say why it cannot open it


def _store_error(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path} is not a readable SQLite results store ({exc}); "
                          "give the path of a store written by genai-harness, or move this file away")
    if "too big" in text:
        return StoreError(f"results store {path} holds or was given a value over {guard.MAX_VALUE_BYTES // 2**20} MiB "
                          f"(the cap on one stored value; {exc}); a genai-harness store holds none this large: use a "
                          "store written by genai-harness")
    if "unable to open database file" in text:
        folder = path.parent.resolve()
        writable = os.access(folder, os.W_OK)
        cause = "see the folder's permissions" if writable else "its folder is read-only for this user"
        return StoreError(f"cannot open results store {path} ({exc}: {cause}, {folder}); give a --store in a "
                          "writable folder or fix the permissions")
    if "locked" in text or "busy" in text:
        return StoreError(f"results store {path} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s ({exc})")
    if "full" in text:
        return StoreError(f"results store {path}: database or disk is full ({exc}); the cell being written was "
                          "rolled back, rows already stored are kept; free space or give another --store")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"results store {path} cannot be written ({exc}); give a writable --store")
    return StoreError(f"results store {path}: {exc}")


ResultStore = SQLiteStore
"""The SQLite store under its historical name: ``ResultStore(path)``."""
