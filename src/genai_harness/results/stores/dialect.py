"""What a backend (SQLite, PostgreSQL) gives a store: a DB-API connection, transactions, its catalog, its
placeholder and SQL types; and the small SQL helpers every part of the store runs its statements through.

The SQL and the logic live in the dialect-neutral parts (:mod:`.writing`, :mod:`.reading`,
:mod:`.migrations`), so both stores behave the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from genai_harness.results.schema import COLUMNS

_KIND = {c.name: c.kind for c in COLUMNS}


class SQLDialect:
    """A backend's connection and SQL words; subclasses give :meth:`_connect`, :meth:`_transaction`,
    :meth:`_tables` and :meth:`_table_columns` (and may change the class attributes)."""

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

    def _stream_cursor(self, conn: Any) -> Any:
        """A cursor that fetches rows in batches (a backend may need a server-side one)."""
        return conn.cursor()

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
        return self.sql_types[_KIND[name]]
