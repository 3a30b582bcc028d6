"""The embedded results store: one SQLite file, appended one cell at a time.

Each :meth:`ResultStore.append` is one transaction, so a run killed mid-cell leaves all or none
of that cell's rows. The file is in WAL mode with a busy timeout, so several processes may append
to one store at once. pandas is imported only by the readers, never by the run's parent process.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_harness.errors import SchemaVersionError, StoreError
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.schema import (
    COLUMN_NAMES,
    COLUMNS,
    JSON_COLUMNS,
    MIN_SCHEMA_VERSION,
    SCHEMA_VERSION,
    SOURCE_COLUMN,
    apply_dtypes,
    columns_for_version,
    normalize_row,
)

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_STORE = Path("results/genai-harness.sqlite")
BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's transaction before giving up."""

_INSERT = f"INSERT INTO results ({', '.join(COLUMN_NAMES)}) VALUES ({', '.join('?' * len(COLUMN_NAMES))})"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _harness_version() -> str:
    from genai_harness import __version__

    return __version__


class ResultStore:
    """A genai-harness results store in the SQLite file ``path`` (created, with its folders, if absent).

    ``create=False`` refuses a missing file. A store of an older schema version reads fine;
    writing to it needs ``migrate=True``, which upgrades the file in place.
    """

    def __init__(self, path: str | Path, *, migrate: bool = False, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise StoreError(f"no results store at {self.path}; run a benchmark first or give the right path")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of results store {self.path}: {exc}") from exc
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

    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A short-lived autocommit connection; every SQLite failure becomes a StoreError naming the file."""
        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if write:
                conn.execute("PRAGMA journal_mode = WAL")
            yield conn
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc) or "malformed" in str(exc):
                raise StoreError(
                    f"{self.path} is not a readable SQLite results store ({exc}); "
                    "give the path of a store written by genai-harness, or move this file away"
                ) from exc
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    f"results store {self.path} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s ({exc})"
                ) from exc
            raise StoreError(f"results store {self.path}: {exc}") from exc
        except UnicodeDecodeError as exc:  # SQLite hands back corrupt text as it is
            raise StoreError(f"{self.path} is a corrupt results store (text that is not UTF-8: {exc.reason}); "
                             "restore it from a copy or move it away") from None
        finally:
            if conn is not None:
                conn.close()

    def _open(self) -> int:
        """Create the tables in an empty file, else check it is a store of a version we read."""
        with self._connect() as conn:
            if not _tables(conn):
                with self._connect(write=True) as wconn:
                    _transaction(wconn, _initialize)
            return _check_version(conn, self.path)

    def _migrate(self) -> None:
        def upgrade(conn: sqlite3.Connection) -> None:
            present = _result_columns(conn)
            for col in COLUMNS:
                if col.name not in present:
                    conn.execute(f"ALTER TABLE results ADD COLUMN {col.name} {col.sql_type}")
            _create_side_tables(conn)
            old = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("migrated_at", _now()), ("migrated_from", str(old))],
            )

        with self._connect(write=True) as conn:
            _transaction(conn, upgrade)
        self.schema_version = SCHEMA_VERSION

    def meta(self) -> dict[str, str]:
        """The store's meta table: schema_version, created_at, harness_version (and migration notes)."""
        with self._connect() as conn:
            return dict(conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall())

    def count(self) -> int:
        """Number of rows in the store."""
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def append(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Write one cell's rows in one transaction (all or none); return how many were written.

        Rows are checked by :func:`~genai_harness.results.schema.normalize_row`; ``recorded_at`` and
        ``harness_version`` default to now and this harness.
        """
        if self.schema_version < SCHEMA_VERSION:
            raise SchemaVersionError(
                f"results store {self.path} has schema version {self.schema_version}, older than version "
                f"{SCHEMA_VERSION} this genai-harness writes; open it with ResultStore(path, migrate=True) to "
                "upgrade it in place, or write to a new store"
            )
        now, version = _now(), _harness_version()
        records = []
        for row in rows:
            record = normalize_row(row)
            record["recorded_at"] = record["recorded_at"] or now
            record["harness_version"] = record["harness_version"] or version
            records.append(tuple(record.values()))
        if records:
            with self._connect(write=True) as conn:
                _transaction(conn, lambda c: c.executemany(_INSERT, records))
        return len(records)

    def check_writable(self) -> None:
        """Raise :class:`StoreError` unless a row could be written now (checked before any cell runs)."""
        with self._connect(write=True) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")

    def read(self, filter: ResultFilter = ALL_ROWS, *, run_id: str | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows ``filter`` selects (applied in the query) as a DataFrame: schema dtypes, JSON as text.

        ``columns`` limits the columns read (default: all, in schema order); columns an older store
        lacks are filled with nulls. ``run_id`` is shorthand for ``ResultFilter(run_ids=run_id)``.
        """
        import pandas as pd

        if run_id is not None:
            filter = ResultFilter(**{**_filter_fields(filter), "run_ids": run_id})
        wanted = list(COLUMN_NAMES) if columns is None else list(columns)
        unknown = [c for c in wanted if c not in COLUMN_NAMES]
        if unknown:
            raise StoreError(f"unknown result column(s) {', '.join(unknown)}; "
                             f"the schema has: {', '.join(COLUMN_NAMES)}")
        with self._connect() as conn:
            present = _result_columns(conn)
            names = [name for name in wanted if name in present]
            where, params = filter.where("?")
            sql = f"SELECT {', '.join(names) or 'NULL'} FROM results"
            if where:
                sql += f" WHERE {where}"
            records = conn.execute(sql + " ORDER BY id", params).fetchall()
        df = pd.DataFrame.from_records(records, columns=names or ["NULL"])[names]
        for name in wanted:
            if name not in df.columns:
                df[name] = pd.Series([None] * len(df), index=df.index, dtype=object)
        try:
            return apply_dtypes(df[wanted])
        except (ValueError, TypeError, OverflowError) as exc:  # a value a genai-harness never wrote
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise StoreError(f"{self.path} holds values that do not fit its schema (corrupt?): {first}; "
                             "restore it from a copy or move it away") from None

    def record_plan(self, run_id: str, labels: Sequence[str]) -> None:
        """Record the cells a run is about to measure, so a run cut short shows as unfinished."""
        now = _now()
        with self._connect(write=True) as conn:
            _transaction(conn, lambda c: c.executemany(
                "INSERT INTO planned_cells (run_id, label, planned_at) VALUES (?, ?, ?)",
                [(run_id, label, now) for label in labels]))

    def planned_cells(self, run_id: str) -> list[str]:
        """The cell labels recorded by :meth:`record_plan` for ``run_id`` (empty for older stores)."""
        with self._connect() as conn:
            if "planned_cells" not in _tables(conn):
                return []
            rows = conn.execute("SELECT label FROM planned_cells WHERE run_id = ? ORDER BY id", (run_id,))
            return [r[0] for r in rows.fetchall()]


def _is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` starts with SQLite's header (an empty or short file does not)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return True  # let SQLite say why it cannot open it


def _filter_fields(filter: ResultFilter) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(filter, f.name) for f in dataclasses.fields(filter)}


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _result_columns(conn: sqlite3.Connection) -> set[str]:
    return {r[1] for r in conn.execute("PRAGMA table_info(results)")}


def _transaction(conn: sqlite3.Connection, body: Any) -> None:
    """Run ``body(conn)`` inside BEGIN IMMEDIATE ... COMMIT, rolling back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        body(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _initialize(conn: sqlite3.Connection) -> None:
    if _tables(conn):  # another process created the store since we looked
        return
    columns = ", ".join(f"{c.name} {c.sql_type}" for c in COLUMNS)
    conn.execute(f"CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, {columns})")
    conn.execute("CREATE INDEX results_run_id ON results (run_id)")
    _create_side_tables(conn)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [
            ("schema_version", str(SCHEMA_VERSION)),
            ("created_at", _now()),
            ("harness_version", _harness_version()),
            ("application", "genai-harness"),
        ],
    )


def _create_side_tables(conn: sqlite3.Connection) -> None:
    """Tables and indexes added after schema 0 (idempotent: used by creation and migration alike)."""
    conn.execute("CREATE TABLE IF NOT EXISTS planned_cells (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                 "run_id TEXT NOT NULL, label TEXT NOT NULL, planned_at TEXT NOT NULL)")
    conn.execute("CREATE INDEX IF NOT EXISTS planned_cells_run_id ON planned_cells (run_id)")
    conn.execute("CREATE INDEX IF NOT EXISTS results_machine_model ON results (machine_fingerprint, model_id)")


def _check_version(conn: sqlite3.Connection, path: Path) -> int:
    fix = "give the path of a store written by genai-harness"
    tables = _tables(conn)
    if not {"meta", "results"} <= tables:
        raise SchemaVersionError(
            f"{path} is an SQLite database but not a genai-harness results store "
            f"(tables: {', '.join(sorted(tables))}; expected 'meta' and 'results'); {fix}"
        )
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise SchemaVersionError(f"results store {path} has no schema_version in its meta table; {fix}")
    try:
        version = int(row[0])
    except (TypeError, ValueError):
        raise SchemaVersionError(f"results store {path} has an unreadable schema_version {row[0]!r}; {fix}") from None
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"results store {path} has schema version {version}, newer than version {SCHEMA_VERSION} that "
            f"genai-harness {_harness_version()} reads; upgrade genai-harness (pip install -U genai-harness)"
        )
    if version < MIN_SCHEMA_VERSION:
        raise SchemaVersionError(
            f"results store {path} has schema version {version}, older than any this genai-harness reads "
            f"(oldest: {MIN_SCHEMA_VERSION}); migrate it with an older genai-harness first"
        )
    missing = [c.name for c in columns_for_version(version) if c.name not in _result_columns(conn)]
    if missing:
        raise SchemaVersionError(
            f"results store {path} claims schema version {version} but lacks column(s) {', '.join(missing)}; {fix}"
        )
    return version


def _store_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise StoreError("no results store given; name one or more .sqlite files or folders holding them")
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = sorted(item.glob("*.sqlite"))
            if not found:
                raise StoreError(f"folder {item} holds no results store (*.sqlite)")
            files.extend(found)
        elif item.exists():
            files.append(item)
        else:
            raise StoreError(f"no results store at {item}; give an existing .sqlite file or a folder of them")
    unique = {f.resolve(): f for f in files}
    return list(unique.values())


def load_results(paths: str | Path | Sequence[str | Path], filter: ResultFilter = ALL_ROWS, *,
                 columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read and concatenate the rows ``filter`` selects from one or several stores (files, or folders of them).

    The filter runs inside each store's query. Each row keeps its own machine_fingerprint/hostname
    and gains ``source_store``, the file it came from.
    """
    import pandas as pd

    frames = []
    for file in _store_files(paths):
        df = ResultStore(file, create=False).read(filter, columns=columns)
        df[SOURCE_COLUMN] = pd.Series([str(file)] * len(df), index=df.index, dtype="string")
        frames.append(df)
    non_empty = [f for f in frames if len(f)] or frames[:1]
    return apply_dtypes(pd.concat(non_empty, ignore_index=True))


def expand_json(df: pd.DataFrame, column: str, *, prefix: str | None = None) -> pd.DataFrame:
    """Return ``df`` with the JSON column ``column`` replaced by flat columns ``<column>.<key>``.

    Nested objects flatten with dots; nulls give empty rows; a non-object value goes to ``<column>.value``.
    """
    import json

    import pandas as pd

    if column not in df.columns:
        raise StoreError(f"no column {column!r} to expand; the JSON columns are {', '.join(JSON_COLUMNS)}")
    parsed = []
    for index, value in df[column].items():
        if value is None or value is pd.NA or (isinstance(value, float) and value != value) or value == "":
            parsed.append({})
            continue
        try:
            obj = json.loads(value)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"column {column!r} row {index!r} is not JSON: {exc}") from exc
        parsed.append(obj if isinstance(obj, dict) else {"value": obj})
    flat = pd.json_normalize(parsed, sep=".")
    flat.index = df.index
    head = f"{column}." if prefix is None else prefix
    flat.columns = [f"{head}{c}" for c in flat.columns]
    return pd.concat([df.drop(columns=[column]), flat], axis=1)
