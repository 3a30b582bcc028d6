"""The shared results store in PostgreSQL (psycopg 3): the same layout and versions as the SQLite one.

Many runners on many machines append at once: each cell is one transaction; a row's ``row_key`` is
unique, so merging a store twice writes nothing twice. The URL's password never leaves this module:
``location`` and every error show the URL masked.

A database is data as an SQLite file is (results/stores/guard.py): a store whose harness tables carry
triggers, rules or generated columns, or whose table names are views, is refused before anything is read or
written; ``GENAI_HARNESS_STORE_TIMEOUT_S`` becomes the server's ``statement_timeout``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from genai_harness.errors import StoreError
from genai_harness.results.schema import SCHEMA_VERSION
from genai_harness.results.stores import guard
from genai_harness.results.stores.base import SQLStore
from genai_harness.results.stores.urls import mask_url, scrub

CONNECT_TIMEOUT_S = 10
_LOCK_ID = 0x67656E6169  # advisory lock taken while creating or migrating the tables


class PostgresStore(SQLStore):
    """A results store in the PostgreSQL database ``url`` (``postgresql://user@host:port/db``, libpq URIs).

    The tables are created on first use; a store of an older schema is read as it is and migrated
    with ``migrate=True``. ``create=False`` refuses a database without a store in it.
    """

    placeholder = "%s"
    id_column = "BIGSERIAL PRIMARY KEY"
    key_type = "UUID"
    """``row_key`` in 16 bytes, not 33 of text: about 50 bytes less per row with its unique index (the 32 hex
    digits are a valid UUID literal, so inserts and conflicts work on the digest text; stores created with a
    TEXT ``row_key`` work as they are)."""
    sql_types: ClassVar[dict[str, str]] = {
        "text": "TEXT", "json": "TEXT", "timestamp": "TEXT", "int": "BIGINT", "float": "DOUBLE PRECISION",
    }

    def __init__(self, url: str, *, migrate: bool = False, create: bool = True) -> None:
        try:
            import psycopg  # noqa: F401  # optional dependency (the postgres extra): asked for when used
        except ImportError as exc:
            raise StoreError("a postgresql:// store needs psycopg 3: pip install 'genai-harness[postgres]'") from exc
        self._url = url
        self.location = mask_url(url)
        self.path = self.location
        self.schema_version = self._open(create)
        if migrate and self.schema_version < SCHEMA_VERSION:
            self._migrate()

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r}, schema_version={self.schema_version})"

    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[Any]:
        """A short-lived autocommit connection; every failure becomes one StoreError without the password."""
        import psycopg  # optional dependency (the postgres extra), loaded when a postgresql:// store is used

        conn = None
        seconds = guard.deadline_seconds()
        options = {"options": f"-c statement_timeout={int(seconds * 1000)}"} if seconds else {}
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, **options)
            yield conn
        except psycopg.errors.QueryCanceled:
            raise StoreError(f"work on results store {self.location} was stopped after {seconds:g} s "
                             f"({guard.DEADLINE_ENV}): the database may hold data that never ends; nothing was "
                             "written. Check the database or raise the deadline") from None
        except psycopg.Error as exc:
            raise self._error(exc) from None
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _error(self, exc: Exception) -> StoreError:
        import psycopg  # optional dependency (the postgres extra), loaded when a postgresql:// store is used

        text = scrub(" ".join(str(exc).split()), self._url)
        if isinstance(exc, psycopg.OperationalError):
            if "password" in text or "authentication" in text:
                fix = "check the user and password (or ~/.pgpass / PGPASSWORD)"
            elif "does not exist" in text:
                fix = "create the database (createdb) or fix its name in the URL"
            else:
                fix = "check that the server is running and the URL's host and port"
            return StoreError(f"results store {self.location} cannot be reached: {text}; {fix}")
        return StoreError(f"results store {self.location}: {text}")

    def _transaction(self, conn: Any, body: Callable[[Any], Any]) -> Any:
        with conn.transaction():
            return body(conn)

    def _tables(self, conn: Any) -> set[str]:
        # pg_catalog, not information_schema: the latter hides tables this user has no rights on.
        rows = self._fetchall(conn, "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()")
        return {r[0] for r in rows}

    def _table_columns(self, conn: Any, table: str) -> set[str]:
        rows = self._fetchall(conn, "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(%s) "
                                    "AND attnum > 0 AND NOT attisdropped", (table,))
        return {r[0] for r in rows}

    def _stream_cursor(self, conn: Any) -> Any:
        # A server-side cursor needs a transaction; rows then arrive in batches, never all at once.
        conn.autocommit = False
        return conn.cursor(name=f"genai_harness_{uuid.uuid4().hex[:12]}")

    def _foreign_objects(self, conn: Any) -> list[str]:
        """What the database holds on the harness's tables beyond what genai-harness creates (catalog only)."""
        names = sorted(guard.HARNESS_TABLES)
        found = [f"trigger {r[0]!r} on {r[1]}" for r in self._fetchall(
            conn, "SELECT t.tgname, c.relname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c "
                  "ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relname = ANY(%s) "
                  "AND c.relnamespace = to_regnamespace(current_schema())", (names,))]
        found += [f"rule {r[0]!r} on {r[1]}" for r in self._fetchall(
            conn, "SELECT rulename, tablename FROM pg_catalog.pg_rules WHERE schemaname = current_schema() "
                  "AND tablename = ANY(%s)", (names,))]
        found += [f"view {r[0]!r}" for r in self._fetchall(
            conn, "SELECT viewname FROM pg_catalog.pg_views WHERE schemaname = current_schema() "
                  "AND viewname = ANY(%s)", (names,))]
        found += [f"generated column {r[0]}.{r[1]}" for r in self._fetchall(
            conn, "SELECT c.relname, a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c "
                  "ON c.oid = a.attrelid WHERE c.relname = ANY(%s) AND a.attgenerated <> '' AND a.attnum > 0 "
                  "AND c.relnamespace = to_regnamespace(current_schema())", (names,))]
        return found

    def _open(self, create: bool) -> int:
        with self._connect() as conn:
            foreign = self._foreign_objects(conn)
            if foreign:
                raise StoreError(
                    f"results store {self.location} holds what genai-harness never creates "
                    f"({', '.join(foreign[:5])}{f' and {len(foreign) - 5} more' if len(foreign) > 5 else ''}); a "
                    "store is data only, so nothing was read or written. Use a database written by genai-harness, "
                    "or drop those if you trust it")
            if not {"meta", "results"} <= self._tables(conn):
                if not create:
                    raise StoreError(f"no results store in {self.location}; run a benchmark into it first")

                def initialize(c: Any) -> None:
                    self._run(c, "SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
                    self._initialize(c)

                self._transaction(conn, initialize)
            return self._read_version(conn)

    def _migrate(self) -> None:
        with self._connect(write=True) as conn:
            self._run(conn, "SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
            try:
                version = self._read_version(conn)
            finally:
                self._run(conn, "SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
        if version < SCHEMA_VERSION:
            super()._migrate()

    def check_writable(self) -> None:
        """Raise :class:`StoreError` unless a row could be written now (checked before any cell runs)."""
        with self._connect(write=True) as conn:
            rows = self._fetchall(conn, "SELECT has_table_privilege('results', 'INSERT') "
                                        "AND has_table_privilege('cells', 'INSERT')")
            if not rows[0][0]:
                raise StoreError(f"results store {self.location}: this user may not insert rows; "
                                 "GRANT INSERT on results and cells, or use another user")
