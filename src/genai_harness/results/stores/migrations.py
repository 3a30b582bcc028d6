"""Creating a store's tables, reading and checking its schema version, and upgrading an older store in place.

A schema 0-2 store (one wide ``results`` table) moves into the normalized layout of :mod:`.layout`; a
normalized store gains the cell and row columns it lacks (null for its rows). Rows keep their values and identity.
"""

from __future__ import annotations

import contextlib
from typing import Any

from genai_harness.errors import SchemaVersionError
from genai_harness.results.schema import (
    COLUMN_NAMES,
    MIN_SCHEMA_VERSION,
    SCHEMA_VERSION,
    columns_for_version,
    now_iso,
)
from genai_harness.results.stores.layout import (
    CELL_COLUMNS,
    NORMALIZED_SINCE,
    READ_BATCH,
    ROW_COLUMNS,
    SHARED_COLUMNS,
    from_stored,
    harness_version,
)
from genai_harness.results.stores.writing import RowWriter


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


class Migrator(RowWriter):
    """The tables of a new store, the version of an existing one, and the upgrade of an older one."""

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
        version = check_version(version_text, self.location, legacy)
        return self._version_of_columns(conn, version) if version >= NORMALIZED_SINCE else version

    def _version_of_columns(self, conn: Any, claimed: int) -> int:
        """The version a normalized store's tables hold the columns of: ``claimed``, or where a column of it is
        missing (a store a development build wrote), the newest version whose columns are all there. The store
        then reads as that version, and a writer or ``results --migrate`` adds what is missing."""
        present = self._table_columns(conn, "cells") | self._table_columns(conn, "results")
        for version in range(claimed, NORMALIZED_SINCE - 1, -1):
            if all(column.name in present for column in columns_for_version(version)):
                return version
        missing = sorted(c.name for c in columns_for_version(NORMALIZED_SINCE) if c.name not in present)
        raise SchemaVersionError(f"results store {self.location} claims schema version {claimed} but its tables lack "
                                 f"column(s) {', '.join(missing)}; give the location of a store written by "
                                 "genai-harness")

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
                self._insert(conn, [from_stored(dict(zip(names, r, strict=True))) for r in batch])
        finally:
            cur.close()
        self._run(conn, "DROP TABLE results_legacy")

    def _migrate(self) -> None:
        """Upgrade an older store in place, in one transaction: a schema 0-2 store (one wide table) into the
        normalized layout, a normalized one by adding the cell and row columns it lacks (null for its rows). Rows keep
        their values, ``schema_version`` included, and their identity (the ``row_key`` a fresh write gives)."""
        def upgrade(conn: Any) -> None:
            old = self._fetchall(conn, "SELECT value FROM meta WHERE key = 'schema_version'")[0][0]
            if int(old) >= NORMALIZED_SINCE:
                for table, names in (("cells", CELL_COLUMNS), ("results", ROW_COLUMNS)):
                    present = self._table_columns(conn, table)
                    for name in names:
                        if name not in present:
                            self._run(conn, f"ALTER TABLE {table} ADD COLUMN {name} {self._sql_type(name)}")
            else:
                self._normalize_legacy(conn)
            for key, value in (("schema_version", str(SCHEMA_VERSION)), ("migrated_at", now_iso()),
                               ("migrated_from", str(old))):
                self._run(conn, self._q("DELETE FROM meta WHERE key = ?"), (key,))
                self._run(conn, self._q("INSERT INTO meta (key, value) VALUES (?, ?)"), (key, value))

        with self._connect(write=True) as conn:
            self._transaction(conn, upgrade)
        self.schema_version = SCHEMA_VERSION
