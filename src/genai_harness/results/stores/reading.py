"""Reading rows back: the query a filter makes, the frames it gives (whole or in batches), the records a merge
copies, and the store's meta table, row count and planned cells.

A normalized store is read in two steps: the rows with their ``cell_id``, then each cell (and each shared
blob) once, joined in pandas (:mod:`.frames`). A store of schema 0-2 is read from its one wide table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from genai_harness.errors import StoreError
from genai_harness.results.domains import set_aside_out_of_domain
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.schema import COLUMN_NAMES, SCHEMA_VERSION, apply_dtypes
from genai_harness.results.stores import layout
from genai_harness.results.stores.dialect import SQLDialect
from genai_harness.results.stores.frames import assemble, distinct

if TYPE_CHECKING:
    import pandas as pd

ID_CHUNK = 500
"""Ids looked up per ``IN (...)`` query (below every backend's limit on parameters)."""


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
    import pandas as pd  # only to read rows: opening or writing a store (CLI start, a run) loads none

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


class RowReader(SQLDialect):
    """The reading side of a store: :meth:`meta`, :meth:`count`, :meth:`planned_cells`, :meth:`read`,
    :meth:`iter_frames` and :meth:`iter_records`."""

    def meta(self) -> dict[str, str]:
        """The store's meta table: schema_version, created_at, harness_version (and migration notes)."""
        with self._connect() as conn:
            return dict(self._fetchall(conn, "SELECT key, value FROM meta ORDER BY key"))

    def count(self) -> int:
        """Number of rows in the store."""
        with self._connect() as conn:
            return int(self._fetchall(conn, "SELECT COUNT(*) FROM results")[0][0])

    def planned_cells(self, run_id: str) -> list[str]:
        """The cell labels recorded by ``record_plan`` for ``run_id`` (empty for older stores)."""
        with self._connect() as conn:
            if "planned_cells" not in self._tables(conn):
                return []
            rows = self._fetchall(conn, self._q("SELECT label FROM planned_cells WHERE run_id = ? ORDER BY id"),
                                  (run_id,))
            return [r[0] for r in rows]

    def planned_runs(self) -> list[tuple[str, str, int]]:
        """Every run whose plan was recorded, rows or not: ``(run_id, planned_at, planned cells)``, oldest first.

        A run killed during its first cell has a plan and no row; this is how it is still listed."""
        with self._connect() as conn:
            if "planned_cells" not in self._tables(conn):
                return []
            rows = self._fetchall(conn, "SELECT run_id, MIN(planned_at), COUNT(*) FROM planned_cells "
                                        "GROUP BY run_id ORDER BY MIN(id)")
            return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def _cell_columns(self, conn: Any) -> set[str]:
        """The cell columns a normalized store has (an older one, read without migrating, lacks the newest)."""
        return set(layout.CELL_COLUMNS) if self.schema_version == SCHEMA_VERSION else self._table_columns(conn, "cells")

    def _row_columns(self, conn: Any) -> set[str]:
        """The row columns a normalized store has (an older one, read without migrating, lacks the newest)."""
        current = self.schema_version == SCHEMA_VERSION
        return set(layout.ROW_COLUMNS) if current else self._table_columns(conn, "results")

    def _select(self, conn: Any, filter: ResultFilter, wanted: list[str]) -> tuple[str, list[Any], list[str]]:
        """The query for ``filter`` and ``wanted`` columns, its parameters and the columns it returns."""
        where, params = filter.where(self.placeholder)
        if self.schema_version >= layout.NORMALIZED_SINCE:
            cell_columns, row_columns = self._cell_columns(conn), self._row_columns(conn)
            names = [n for n in wanted if n in row_columns or n in cell_columns]
            exprs = [f"results.{n}" if n in layout.ROW_COLUMNS else
                     f"(SELECT value FROM blobs WHERE blobs.id = cells.{n}) AS {n}" if n in layout.SHARED_COLUMNS else
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
        cell_columns, row_columns = self._cell_columns(conn), self._row_columns(conn)
        row_names = [n for n in wanted if n in layout.ROW_COLUMNS and n in row_columns]
        cell_names = [n for n in wanted if n in layout.CELL_COLUMNS and n in cell_columns]
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
        shared = [position for position, name in enumerate(cell_names, start=1) if name in layout.SHARED_COLUMNS]
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
        return assemble(row_records, row_names, cell_records, cell_names, layout.SHARED_COLUMNS, blobs, wanted,
                        self.location)

    def read(self, filter: ResultFilter = ALL_ROWS, *, run_id: str | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows ``filter`` selects (applied in the query) as a DataFrame: schema dtypes, JSON as text.

        ``columns`` limits the columns read (default: all, in schema order); columns an older store
        lacks are filled with nulls. A metric value outside its domain (a negative duration) is made null, with
        one warning naming it (:mod:`genai_harness.results.domains`). ``run_id`` is shorthand for
        ``ResultFilter(run_ids=run_id)``.
        """
        if run_id is not None:
            filter = replace_filter(filter, run_ids=(run_id,))
        wanted = check_columns(columns)
        with self._connect() as conn:
            if self.schema_version >= layout.NORMALIZED_SINCE:
                sql, params, row_names, cell_names = self._row_query(conn, filter, wanted)
                records = self._fetchall(conn, sql, params)
                df = self._normalized_frame(conn, records, row_names, cell_names, wanted, {})
            else:
                sql, params, names = self._select(conn, filter, wanted)
                df = frame(self._fetchall(conn, sql, params), names, wanted, self.location)
        return set_aside_out_of_domain(df, self.location)  # a negative duration is never ranked or compared

    def iter_frames(self, filter: ResultFilter = ALL_ROWS, *, columns: Sequence[str] | None = None,
                    batch: int = layout.READ_BATCH) -> Iterator[pd.DataFrame]:
        """The rows ``filter`` selects, ``batch`` rows at a time (to stream a store bigger than memory)."""
        wanted = check_columns(columns)
        blobs: dict[Any, str] = {}  # few and shared by many cells: kept for the whole stream
        with self._connect() as conn:
            normalized = self.schema_version >= layout.NORMALIZED_SINCE
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

    def iter_records(self, filter: ResultFilter = ALL_ROWS) -> Iterator[dict[str, Any]]:
        """Every selected row as a record in storage form (what ``normalize_row`` made of it)."""
        with self._connect() as conn:
            sql, params, names = self._select(conn, filter, list(COLUMN_NAMES))
            cur = self._stream_cursor(conn)
            try:
                cur.execute(sql, tuple(params))
                while records := cur.fetchmany(layout.READ_BATCH):
                    for r in records:
                        yield layout.from_stored(dict(zip(names, r, strict=True)))
            finally:
                cur.close()
