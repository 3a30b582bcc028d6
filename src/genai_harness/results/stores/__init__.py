"""Results stores: SQLite (the embedded default) and PostgreSQL (shared by a lab), one interface.

:func:`open_store` takes a file path or a ``postgresql://`` URL; any other URL scheme is refused. Code outside
:mod:`genai_harness.results` reaches the stores through its one door, :mod:`genai_harness.results.store`.
"""

from __future__ import annotations

import os
from pathlib import Path

from genai_harness.results.stores.base import SQLStore
from genai_harness.results.stores.postgres import PostgresStore
from genai_harness.results.stores.sqlite import DEFAULT_STORE, ResultStore, SQLiteStore
from genai_harness.results.stores.urls import (
    ENV_VAR,
    POSTGRES_SCHEMES,
    check_scheme,
    is_url,
    mask_url,
    parse_store,
    redact,
    resolve_store_spec,
    scheme_of,
)


def open_store(spec: str | os.PathLike[str] | None = None, *, create: bool = True, migrate: bool = False) -> SQLStore:
    """The store at ``spec``: a SQLite file path or a ``postgresql://`` URL (libpq URIs, ``?host=/dir&port=N``).

    ``None`` means ``$GENAI_HARNESS_STORE``, else :data:`DEFAULT_STORE`. An unknown URL scheme is a
    :class:`~genai_harness.errors.StoreError`.
    """
    store = parse_store(spec)
    if isinstance(store, str) and scheme_of(store) in POSTGRES_SCHEMES:
        return PostgresStore(store, create=create, migrate=migrate)
    return SQLiteStore(Path(store), create=create, migrate=migrate)


__all__ = [
    "DEFAULT_STORE",
    "ENV_VAR",
    "ResultStore",
    "SQLStore",
    "SQLiteStore",
    "check_scheme",
    "is_url",
    "mask_url",
    "open_store",
    "parse_store",
    "redact",
    "resolve_store_spec",
    "scheme_of",
]
