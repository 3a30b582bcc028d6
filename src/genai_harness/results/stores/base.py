"""What every results store shares: the normalized layout (schema 3 on), row identity, reads and merges.

Schema 3 keeps what repeats within a cell once, in ``cells`` (run, machine, where and what ran:
``CELL_COLUMNS``), and one small row per repetition in ``results`` (``ROW_COLUMNS``, ``cell_id``).
Each row has ``row_key``, a digest of its column values (see :func:`identity_values`): a row merged
twice, from any store into any other, is written once. Stores of schema 0-2 (one wide ``results`` table)
are read as they are.

A backend (SQLite, PostgreSQL) gives a DB-API connection, its placeholder and its dialect words;
the SQL and the logic live here, so both stores behave the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from genai_harness.errors import SchemaVersionError, StoreError
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.schema import (
    COLUMN_NAMES,
    COLUMNS,
    MIN_SCHEMA_VERSION,
    SCHEMA_VERSION,
    apply_dtypes,
    columns_for_version,
    identity_values,
    normalize_row,
)
from genai_harness.results.stores.frames import assemble, distinct

if TYPE_CHECKING:
    import pandas as pd

NORMALIZED_SINCE = 3
"""The first schema version with the cells/results split."""
ADDITIVE_SINCE = NORMALIZED_SINCE
"""From this version on, a migration only adds nullable columns: a writer may apply it without being asked."""
CELL_COLUMNS: tuple[str, ...] = (
    "run_id", "run_started_at", "harness_version", "machine_fingerprint", "hostname", "machine_profile",
    "runtime_versions", "environment", "python_executable", "framework", "device", "device_identifier",
    "execution_provider", "device_options", "actual_device", "task", "workload_id", "workload_version",
    "workload_hash", "model_id", "model_format", "model_hash", "precision", "precision_requested", "threads",
    "threads_requested", "weight_dtypes", "numerics", "batch_requested", "energy_source", "injected_slowdown",
    "runtime", "itl_by_position_ms",
)
"""Columns stored once per distinct cell (every filterable column but ``status`` is one)."""
SHARED_COLUMNS: tuple[str, ...] = ("machine_profile", "runtime_versions", "device_options", "numerics")
"""Cell columns of large JSON that many cells repeat (a machine's profile): kept once in ``blobs``, the cell
holding the blob's id."""
ROW_COLUMNS: tuple[str, ...] = tuple(n for n in COLUMN_NAMES if n not in CELL_COLUMNS)
"""Columns stored per measured repetition."""
READ_BATCH = 50_000
"""Rows fetched at a time when streaming a store."""
ID_CHUNK = 500
"""Ids looked up per ``IN (...)`` query (below every backend's limit on parameters)."""
_BY_NAME = {c.name: c for c in COLUMNS}


def now_iso() -> str:
    """The current UTC time, ISO-8601."""
    return datetime.now(timezone.utc).isoformat()


def harness_version() -> str:
    """This genai-harness's version."""
    from genai_harness.version import __version__

    return __version__


def digest(values: Sequence[Any]) -> str:
    """A stable 128-bit hex digest of a sequence of storage-form values."""
    text = json.dumps(list(values), separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def row_key(record: Mapping[str, Any]) -> str:
    """A row's identity: the digest of all its schema columns in storage form (see :func:`normalize_row`)."""
    return digest(identity_values(record, COLUMN_NAMES))


def replace_filter(filter: ResultFilter, **changes: Any) -> ResultFilter:
    """``filter`` with some fields replaced."""
    return dataclasses.replace(filter, **changes)


def check_columns(columns: Sequence[str] | None) -> list[str]:
    """The wanted columns (all by default), refusing unknown ones."""
    wanted = list(COLUMN_NAMES) if columns is None else list(columns)
    unknown = [c for c in wanted if c not in COLUMN_NAMES]
    if unknown:
        raise StoreError(f"unknown result column(s) {', '.join(unknown)}; the schema has: {', '.join(COLUMN_NAMES)}")
    return wanted


def frame(records: list[tuple[Any, ...]], names: list[str], wanted: list[str], location: str = "the store"
          ) -> pd.DataFrame:
    """A DataFrame of ``records`` (columns ``names``), with absent ``wanted`` columns null, schema dtypes."""
    import pandas as pd

    df = pd.DataFrame.from_records(records, columns=names or ["NULL"])[names]
    for name in wanted:
        if name not in df.columns:
            df[name] = pd.Series([None] * len(df), index=df.index, dtype=object)
    try:
        return apply_dtypes(df[wanted])
    except (ValueError, TypeError, OverflowError) as exc:  # a value a genai-harness never wrote
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise StoreError(f"{location} holds values that do not fit its schema (corrupt?): {first}; "
                         "restore it from a copy or move it away") from None


def check_version(version_text: Any, location: str, present_columns: set[str] | None) -> int:
    """The store's schema version, refusing one this harness cannot read (``present_columns``: legacy table)."""
    fix = "give the location of a store written by genai-harness"
    if version_text is None:
        raise SchemaVersionError(f"results store {location} has no schema_version in its meta table; {fix}")
    try:
        version = int(version_text)
    except (TypeError, ValueError):
        raise SchemaVersionError(
            f"results store {location} has an unreadable schema_version {version_text!r}; {fix}") from None
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"results store {location} has schema version {version}, newer than version {SCHEMA_VERSION} that "
            f"genai-harness {harness_version()} reads; upgrade genai-harness (pip install -U genai-harness)"
        )
    if version < MIN_SCHEMA_VERSION:
        raise SchemaVersionError(
            f"results store {location} has schema version {version}, older than any this genai-harness reads "
            f"(oldest: {MIN_SCHEMA_VERSION}); migrate it with an older genai-harness first"
        )
    if present_columns is not None and version < NORMALIZED_SINCE:
        missing = [c.name for c in columns_for_version(version) if c.name not in present_columns]
        if missing:
            raise SchemaVersionError(f"results store {location} claims schema version {version} but lacks "
                                     f"column(s) {', '.join(missing)}; {fix}")
    return version


class SQLStore:
    """The store logic over a DB-API backend; subclasses give the connection and the dialect.

    Public surface (every reader and writer of the project uses only this): ``schema_version``,
    ``location``, :meth:`meta`, :meth:`count`, :meth:`append`, :meth:`check_writable`, :meth:`read`,
    :meth:`iter_records`, :meth:`merge_from`, :meth:`record_plan`, :meth:`planned_cells`.
    """

    placeholder = "?"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    key_type = "TEXT"
    """SQL type of ``row_key`` (a 128-bit digest as 32 hex digits; a backend may store it in 16 bytes)."""
    sql_types: ClassVar[dict[str, str]] = {
        "text": "TEXT", "json": "TEXT", "timestamp": "TEXT", "int": "INTEGER", "float": "REAL",
    }
    schema_version: int
    location: str
    """Where the store is, for messages (a URL never shows its password)."""

    # -- what a backend provides ---------------------------------------------------------------
    def _connect(self, *, write: bool = False) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _transaction(self, conn: Any, body: Callable[[Any], Any]) -> Any:
        raise NotImplementedError

    def _tables(self, conn: Any) -> set[str]:
        raise NotImplementedError

    def _table_columns(self, conn: Any, table: str) -> set[str]:
        raise NotImplementedError

    def _insert_ignore(self, table: str, names: Sequence[str], conflict: str) -> str:
        marks = ", ".join([self.placeholder] * len(names))
        return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) ON CONFLICT ({conflict}) DO NOTHING"

    # -- helpers -------------------------------------------------------------------------------
    def _q(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    @staticmethod
    def _fetchall(conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())
        finally:
            cur.close()

    @staticmethod
    def _run(conn: Any, sql: str, params: Sequence[Any] = ()) -> int:
        cur = conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return int(cur.rowcount or 0)
        finally:
            cur.close()

    def _sql_type(self, name: str) -> str:
        return self.sql_types[_BY_NAME[name].kind]

    # -- creation, versions, migration -----------------------------------------------------------
    def _initialize(self, conn: Any) -> None:
        if {"meta", "results"} <= self._tables(conn):  # another process created the store since we looked
            return
        self._create_layout(conn, "results")
        self._run(conn, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for key, value in (("schema_version", str(SCHEMA_VERSION)), ("created_at", now_iso()),
                           ("harness_version", harness_version()), ("application", "genai-harness")):
            self._run(conn, self._q("INSERT INTO meta (key, value) VALUES (?, ?)"), (key, value))

    def _create_layout(self, conn: Any, results_table: str) -> None:
        self._run(conn, f"CREATE TABLE IF NOT EXISTS blobs (id {self.id_column}, digest TEXT NOT NULL UNIQUE, "
                        "value TEXT NOT NULL)")
        cells = ", ".join(f"{n} {'BIGINT' if n in SHARED_COLUMNS else self._sql_type(n)}" for n in CELL_COLUMNS)
        rows = ", ".join(f"{n} {self._sql_type(n)}" for n in ROW_COLUMNS)
        self._run(conn, f"CREATE TABLE IF NOT EXISTS cells (id {self.id_column}, "
                        f"cell_key TEXT NOT NULL UNIQUE, {cells})")
        self._run(conn, f"CREATE TABLE {results_table} (id {self.id_column}, row_key {self.key_type} NOT NULL UNIQUE, "
                        f"cell_id INTEGER NOT NULL REFERENCES cells (id), {rows})")
        self._run(conn, f"CREATE INDEX IF NOT EXISTS {results_table}_cell ON {results_table} (cell_id)")
        self._run(conn, "CREATE INDEX IF NOT EXISTS cells_run_id ON cells (run_id)")
        self._run(conn, "CREATE INDEX IF NOT EXISTS cells_machine_model ON cells (machine_fingerprint, model_id)")
        self._run(conn, "CREATE INDEX IF NOT EXISTS cells_workload ON cells (workload_id)")
        self._run(conn, "CREATE INDEX IF NOT EXISTS cells_started ON cells (run_started_at)")
        self._create_planned_cells(conn)

    def _create_planned_cells(self, conn: Any) -> None:
        self._run(conn, f"CREATE TABLE IF NOT EXISTS planned_cells (id {self.id_column}, "
                        "run_id TEXT NOT NULL, label TEXT NOT NULL, planned_at TEXT NOT NULL)")
        self._run(conn, "CREATE INDEX IF NOT EXISTS planned_cells_run_id ON planned_cells (run_id)")

    def _read_version(self, conn: Any) -> int:
        tables = self._tables(conn)
        if not {"meta", "results"} <= tables:
            raise SchemaVersionError(
                f"{self.location} is a database but not a genai-harness results store "
                f"(tables: {', '.join(sorted(tables)) or 'none'}; expected 'meta' and 'results'); "
                "give the location of a store written by genai-harness")
        row = self._fetchall(conn, "SELECT value FROM meta WHERE key = 'schema_version'")
        version_text = row[0][0] if row else None
        legacy = None
        with contextlib.suppress(TypeError, ValueError):
            if int(version_text) < NORMALIZED_SINCE:
                legacy = self._table_columns(conn, "results")
        return check_version(version_text, self.location, legacy)

    def _normalize_legacy(self, conn: Any) -> None:
        """Move a schema 0-2 store's one wide ``results`` table into the normalized layout."""
        present = self._table_columns(conn, "results")
        self._run(conn, "ALTER TABLE results RENAME TO results_legacy")
        for index in ("results_run_id", "results_machine_model"):
            self._run(conn, f"DROP INDEX IF EXISTS {index}")
        self._create_layout(conn, "results")
        names = [n for n in COLUMN_NAMES if n in present]
        cur = conn.cursor()
        try:
            cur.execute(f"SELECT {', '.join(names)} FROM results_legacy ORDER BY id")
            while batch := cur.fetchmany(READ_BATCH):
                self._insert(conn, [_from_stored(dict(zip(names, r, strict=True))) for r in batch])
        finally:
            cur.close()
        self._run(conn, "DROP TABLE results_legacy")

    def _migrate(self) -> None:
        """Upgrade an older store in place, in one transaction: a schema 0-2 store (one wide table) into the
        normalized layout, a normalized one by adding the cell columns it lacks (null for its rows). Rows keep
        their values, ``schema_version`` included, and their identity (the ``row_key`` a fresh write gives)."""
        def upgrade(conn: Any) -> None:
            old = self._fetchall(conn, "SELECT value FROM meta WHERE key = 'schema_version'")[0][0]
            if int(old) >= NORMALIZED_SINCE:
                present = self._table_columns(conn, "cells")
                for name in CELL_COLUMNS:
                    if name not in present:
                        self._run(conn, f"ALTER TABLE cells ADD COLUMN {name} {self._sql_type(name)}")
            else:
                self._normalize_legacy(conn)
            for key, value in (("schema_version", str(SCHEMA_VERSION)), ("migrated_at", now_iso()),
                               ("migrated_from", str(old))):
                self._run(conn, self._q("DELETE FROM meta WHERE key = ?"), (key,))
                self._run(conn, self._q("INSERT INTO meta (key, value) VALUES (?, ?)"), (key, value))

        with self._connect(write=True) as conn:
            self._transaction(conn, upgrade)
        self.schema_version = SCHEMA_VERSION

    # -- writing -----------------------------------------------------------------------------------
    def _refuse_old(self) -> None:
        if self.schema_version < SCHEMA_VERSION:
            raise SchemaVersionError(
                f"results store {self.location} has schema version {self.schema_version}, older than version "
                f"{SCHEMA_VERSION} this genai-harness writes; upgrade it in place (`genai-harness results --store "
                f"{self.location} --migrate`, or open_store(spec, migrate=True)), or write to a new store")

    def _insert(self, conn: Any, records: list[dict[str, Any]]) -> int:
        """Insert normalized records (inside the caller's transaction); return how many rows were new."""
        cell_ids: dict[str, Any] = {}
        cell_sql = self._insert_ignore("cells", ("cell_key", *CELL_COLUMNS), "cell_key")
        blob_ids: dict[str, Any] = {}
        for record in records:
            key = digest(identity_values(record, CELL_COLUMNS))
            record["_cell_key"] = key
            if key not in cell_ids:
                values = {n: record[n] for n in CELL_COLUMNS}
                for name in SHARED_COLUMNS:
                    if values[name] is not None:
                        values[name] = self._blob_id(conn, values[name], blob_ids)
                self._run(conn, cell_sql, (key, *values.values()))
                cell_ids[key] = self._fetchall(conn, self._q("SELECT id FROM cells WHERE cell_key = ?"), (key,))[0][0]
        row_sql = self._insert_ignore("results", ("row_key", "cell_id", *ROW_COLUMNS), "row_key")
        params = [(row_key(r), cell_ids[r.pop("_cell_key")], *(r[n] for n in ROW_COLUMNS)) for r in records]
        cur = conn.cursor()
        try:
            cur.executemany(row_sql, params)  # rowcount: the rows actually inserted (not those already there)
            return int(cur.rowcount or 0)
        finally:
            cur.close()

    def _blob_id(self, conn: Any, value: str, known: dict[str, Any]) -> Any:
        key = digest([value])
        if key not in known:
            self._run(conn, self._insert_ignore("blobs", ("digest", "value"), "digest"), (key, value))
            known[key] = self._fetchall(conn, self._q("SELECT id FROM blobs WHERE digest = ?"), (key,))[0][0]
        return known[key]

    def append(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Write one cell's rows in one transaction (all or none); return how many rows are new.

        Rows are checked by :func:`~genai_harness.results.schema.normalize_row`; ``recorded_at`` and
        ``harness_version`` default to now and this harness. A row identical to one already stored
        (same ``row_key``) is not written twice.
        """
        self._refuse_old()
        now, version = now_iso(), harness_version()
        records = []
        for row in rows:
            record = normalize_row(row)
            record["recorded_at"] = record["recorded_at"] or now
            record["harness_version"] = record["harness_version"] or version
            records.append(record)
        if not records:
            return 0
        with self._connect(write=True) as conn:
            return int(self._transaction(conn, lambda c: self._insert(c, records)))

    def merge_from(self, source: SQLStore, *, batch: int = 5_000) -> int:
        """Copy every row of ``source`` here, skipping rows already present; return how many were new.

        Each batch is one transaction, so an interrupted merge can be rerun: it resumes without duplicates.
        """
        self._refuse_old()
        written = 0
        pending: list[dict[str, Any]] = []
        for record in source.iter_records():
            pending.append(record)
            if len(pending) >= batch:
                written += self._write_batch(pending)
                pending = []
        if pending:
            written += self._write_batch(pending)
        return written

    def _write_batch(self, records: list[dict[str, Any]]) -> int:
        with self._connect(write=True) as conn:
            return int(self._transaction(conn, lambda c: self._insert(c, records)))

    def record_plan(self, run_id: str, labels: Sequence[str]) -> None:
        """Record the cells a run is about to measure, so a run cut short shows as unfinished."""
        now = now_iso()

        def body(conn: Any) -> None:
            for label in labels:
                self._run(conn, self._q("INSERT INTO planned_cells (run_id, label, planned_at) VALUES (?, ?, ?)"),
                          (run_id, label, now))

        with self._connect(write=True) as conn:
            self._transaction(conn, body)

    # -- reading -----------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """The store's meta table: schema_version, created_at, harness_version (and migration notes)."""
        with self._connect() as conn:
            return dict(self._fetchall(conn, "SELECT key, value FROM meta ORDER BY key"))

    def count(self) -> int:
        """Number of rows in the store."""
        with self._connect() as conn:
            return int(self._fetchall(conn, "SELECT COUNT(*) FROM results")[0][0])

    def planned_cells(self, run_id: str) -> list[str]:
        """The cell labels recorded by :meth:`record_plan` for ``run_id`` (empty for older stores)."""
        with self._connect() as conn:
            if "planned_cells" not in self._tables(conn):
                return []
            rows = self._fetchall(conn, self._q("SELECT label FROM planned_cells WHERE run_id = ? ORDER BY id"),
                                  (run_id,))
            return [r[0] for r in rows]

    def _cell_columns(self, conn: Any) -> set[str]:
        """The cell columns a normalized store has (an older one, read without migrating, lacks the newest)."""
        return set(CELL_COLUMNS) if self.schema_version == SCHEMA_VERSION else self._table_columns(conn, "cells")

    def _select(self, conn: Any, filter: ResultFilter, wanted: list[str]) -> tuple[str, list[Any], list[str]]:
        """The query for ``filter`` and ``wanted`` columns, its parameters and the columns it returns."""
        where, params = filter.where(self.placeholder)
        if self.schema_version >= NORMALIZED_SINCE:
            cell_columns = self._cell_columns(conn)
            names = [n for n in wanted if n in ROW_COLUMNS or n in cell_columns]
            exprs = [f"results.{n}" if n in ROW_COLUMNS else
                     f"(SELECT value FROM blobs WHERE blobs.id = cells.{n}) AS {n}" if n in SHARED_COLUMNS else
                     f"cells.{n}" for n in names]
            sql = f"SELECT {', '.join(exprs) or 'NULL'} FROM results JOIN cells ON cells.id = results.cell_id"
            order = " ORDER BY results.id"
        else:
            present = self._table_columns(conn, "results")
            names = [n for n in wanted if n in present]
            sql = f"SELECT {', '.join(names) or 'NULL'} FROM results"
            order = " ORDER BY id"
        if where:
            sql += f" WHERE {where}"
        return sql + order, params, names

    def _row_query(self, conn: Any, filter: ResultFilter, wanted: list[str]
                   ) -> tuple[str, list[Any], list[str], list[str]]:
        """A normalized store's query for ``filter``: ``(cell_id, *row columns)`` per row; its parameters, the
        row columns it returns and the wanted cell columns the store has (read once per cell, not per row)."""
        where, params = filter.where(self.placeholder)
        cell_columns = self._cell_columns(conn)
        row_names = [n for n in wanted if n in ROW_COLUMNS]
        cell_names = [n for n in wanted if n in CELL_COLUMNS and n in cell_columns]
        sql = (f"SELECT {', '.join(['results.cell_id', *(f'results.{n}' for n in row_names)])} "
               "FROM results JOIN cells ON cells.id = results.cell_id")
        if where:
            sql += f" WHERE {where}"
        return sql + " ORDER BY results.id", params, row_names, cell_names

    def _cells(self, conn: Any, ids: list[Any], cell_names: list[str], blobs: dict[Any, str]
               ) -> list[tuple[Any, ...]]:
        """The cells ``ids`` as ``(id, *cell_names)`` tuples; adds the blobs they refer to to ``blobs``."""
        if not cell_names:
            return [(i,) for i in ids]
        records: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            marks = ", ".join([self.placeholder] * len(chunk))
            records += self._fetchall(conn, f"SELECT id, {', '.join(cell_names)} FROM cells WHERE id IN ({marks})",
                                      chunk)
        shared = [position for position, name in enumerate(cell_names, start=1) if name in SHARED_COLUMNS]
        missing = [b for b in distinct([r[p] for r in records for p in shared]) if b not in blobs]
        for start in range(0, len(missing), ID_CHUNK):
            chunk = missing[start:start + ID_CHUNK]
            marks = ", ".join([self.placeholder] * len(chunk))
            blobs.update(self._fetchall(conn, f"SELECT id, value FROM blobs WHERE id IN ({marks})", chunk))
        return records

    def _normalized_frame(self, conn: Any, row_records: list[tuple[Any, ...]], row_names: list[str],
                          cell_names: list[str], wanted: list[str], blobs: dict[Any, str]) -> pd.DataFrame:
        """The frame of ``row_records`` (from :meth:`_row_query`), with their cells' columns joined in."""
        cell_ids = distinct([r[0] for r in row_records])
        cell_records = self._cells(conn, cell_ids, cell_names, blobs)
        return assemble(row_records, row_names, cell_records, cell_names, SHARED_COLUMNS, blobs, wanted,
                        self.location)

    def read(self, filter: ResultFilter = ALL_ROWS, *, run_id: str | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows ``filter`` selects (applied in the query) as a DataFrame: schema dtypes, JSON as text.

        ``columns`` limits the columns read (default: all, in schema order); columns an older store
        lacks are filled with nulls. ``run_id`` is shorthand for ``ResultFilter(run_ids=run_id)``.
        """
        if run_id is not None:
            filter = replace_filter(filter, run_ids=(run_id,))
        wanted = check_columns(columns)
        with self._connect() as conn:
            if self.schema_version >= NORMALIZED_SINCE:
                sql, params, row_names, cell_names = self._row_query(conn, filter, wanted)
                records = self._fetchall(conn, sql, params)
                return self._normalized_frame(conn, records, row_names, cell_names, wanted, {})
            sql, params, names = self._select(conn, filter, wanted)
            records = self._fetchall(conn, sql, params)
        return frame(records, names, wanted, self.location)

    def iter_frames(self, filter: ResultFilter = ALL_ROWS, *, columns: Sequence[str] | None = None,
                    batch: int = READ_BATCH) -> Iterator[pd.DataFrame]:
        """The rows ``filter`` selects, ``batch`` rows at a time (to stream a store bigger than memory)."""
        wanted = check_columns(columns)
        blobs: dict[Any, str] = {}  # few and shared by many cells: kept for the whole stream
        with self._connect() as conn:
            normalized = self.schema_version >= NORMALIZED_SINCE
            if normalized:
                sql, params, row_names, cell_names = self._row_query(conn, filter, wanted)
            else:
                sql, params, names = self._select(conn, filter, wanted)
            cur = self._stream_cursor(conn)
            try:
                cur.execute(sql, tuple(params))
                while records := cur.fetchmany(batch):
                    if normalized:
                        yield self._normalized_frame(conn, list(records), row_names, cell_names, wanted, blobs)
                    else:
                        yield frame(list(records), names, wanted, self.location)
            finally:
                cur.close()

    def _stream_cursor(self, conn: Any) -> Any:
        return conn.cursor()

    def iter_records(self, filter: ResultFilter = ALL_ROWS) -> Iterator[dict[str, Any]]:
        """Every selected row as a record in storage form (what :func:`normalize_row` made of it)."""
        with self._connect() as conn:
            sql, params, names = self._select(conn, filter, list(COLUMN_NAMES))
            cur = self._stream_cursor(conn)
            try:
                cur.execute(sql, tuple(params))
                while records := cur.fetchmany(READ_BATCH):
                    for r in records:
                        yield _from_stored(dict(zip(names, r, strict=True)))
            finally:
                cur.close()


def _from_stored(values: dict[str, Any]) -> dict[str, Any]:
    """A stored row back in normalized form (columns an old store lacks are None)."""
    record = {name: values.get(name) for name in COLUMN_NAMES}
    return normalize_row(record) if record["run_id"] and record["status"] else record
