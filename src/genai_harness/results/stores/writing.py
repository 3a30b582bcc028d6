"""Writing rows: one cell's rows per transaction, each cell and each shared blob once, each row once.

A row identical to one already stored (same ``row_key``, see :mod:`.layout`) is skipped, so a cell
appended twice or a store merged twice writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from genai_harness.errors import SchemaVersionError
from genai_harness.results.schema import SCHEMA_VERSION, normalize_row, now_iso
from genai_harness.results.stores.dialect import SQLDialect
from genai_harness.results.stores.layout import (
    CELL_COLUMNS,
    ROW_COLUMNS,
    SHARED_COLUMNS,
    cell_key,
    digest,
    harness_version,
    row_key,
)


class RecordSource(Protocol):
    """A store rows are merged from."""

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every row in storage form."""
        ...


class RowWriter(SQLDialect):
    """Appending cells, merging stores and recording a run's plan (refused on a store of an older schema)."""

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
            key = cell_key(record)
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
        return self._write_batch(records)

    def merge_from(self, source: RecordSource, *, batch: int = 5_000) -> int:
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
