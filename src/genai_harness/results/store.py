"""The one door to the results stores: every reader and writer outside :mod:`genai_harness.results` opens a
store here (:func:`open_store`, :func:`open_for_writing`, :func:`iter_stores`) or reads rows here
(:func:`load_results`, :func:`expand_json`).

The implementations live in :mod:`genai_harness.results.stores` (SQLite, PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from genai_harness.errors import SchemaVersionError, StoreError
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.schema import JSON_COLUMNS, SCHEMA_VERSION, SOURCE_COLUMN, apply_dtypes
from genai_harness.results.stores import (
    DEFAULT_STORE,
    ResultStore,
    SQLStore,
    is_url,
    mask_url,
    open_store,
    parse_store,
    redact,
    resolve_store_spec,
    scheme_of,
)
from genai_harness.results.stores.layout import ADDITIVE_SINCE

if TYPE_CHECKING:
    import pandas as pd

StoreSpec = str | Path
__all__ = ["DEFAULT_STORE", "ResultStore", "SQLStore", "expand_json", "is_url", "iter_stores", "load_results",
           "mask_url", "open_for_writing", "open_store", "parse_store", "redact", "resolve_store_spec",
           "scheme_of"]


def open_for_writing(spec: StoreSpec | None, *, out: TextIO) -> SQLStore:
    """The store a run writes to (``spec``: a path or ``postgresql://`` URL; None: ``$GENAI_HARNESS_STORE`` or
    the default), checked before any cell runs.

    A store that lacks only new nullable columns is upgraded in place (said on ``out``); an older one is refused
    with a :class:`SchemaVersionError`, one that cannot take a row with a :class:`StoreError`.
    """
    store = open_store(spec)
    if ADDITIVE_SINCE <= store.schema_version < SCHEMA_VERSION:  # new nullable columns only: safe
        old_version = store.schema_version
        store = open_store(spec, migrate=True)
        print(f"genai-harness: upgraded results store {store.location} from schema version {old_version} "
              f"to {SCHEMA_VERSION} (new columns, null for the rows already there)", file=out)
    if store.schema_version < SCHEMA_VERSION:  # refuse before any cell runs, not after the first one
        raise SchemaVersionError(
            f"results store {store.location} has schema version {store.schema_version}, older than "
            f"version {SCHEMA_VERSION} this genai-harness writes; nothing was run. Write to a new store "
            f"(--store PATH) or upgrade this one in place with `genai-harness results --store "
            f"{store.location} --migrate`"
        )
    store.check_writable()  # a store that cannot take a row is refused before any cell runs
    return store


def _store_specs(paths: StoreSpec | Sequence[StoreSpec]) -> list[str | Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise StoreError("no results store given; name one or more .sqlite files, folders holding them, "
                         "or postgresql:// URLs")
    specs: list[str | Path] = []
    for item in items:
        path = parse_store(item)
        if isinstance(path, str):  # a URL
            specs.append(path)
            continue
        if path.is_dir():
            found = sorted(path.glob("*.sqlite"))
            if not found:
                raise StoreError(f"folder {path} holds no results store (*.sqlite)")
            specs.extend(found)
        elif path.exists():
            specs.append(path)
        else:
            raise StoreError(f"no results store at {path}; give an existing .sqlite file or a folder of them")
    unique = {(s if isinstance(s, str) else s.resolve()): s for s in specs}
    return list(unique.values())


def iter_stores(paths: StoreSpec | Sequence[StoreSpec]) -> Iterator[SQLStore]:
    """Each existing store that ``paths`` names (files, folders of ``*.sqlite``, URLs), opened for reading."""
    for spec in _store_specs(paths):
        yield open_store(spec, create=False)


def load_results(paths: StoreSpec | Sequence[StoreSpec], filter: ResultFilter = ALL_ROWS, *,
                 columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read and concatenate the rows ``filter`` selects from one or several stores (files, folders, URLs).

    The filter runs inside each store's query. Each row keeps its own machine_fingerprint/hostname
    and gains ``source_store``, the store it came from (a URL without its password).
    """
    import pandas as pd  # only to read rows: opening or writing a store (CLI start, a run) loads none

    frames = []
    for store in iter_stores(paths):
        df = store.read(filter, columns=columns)
        df[SOURCE_COLUMN] = pd.Series([store.location] * len(df), index=df.index, dtype="string")
        frames.append(df)
    non_empty = [f for f in frames if len(f)] or frames[:1]
    return apply_dtypes(pd.concat(non_empty, ignore_index=True))


def expand_json(df: pd.DataFrame, column: str, *, prefix: str | None = None) -> pd.DataFrame:
    """Return ``df`` with the JSON column ``column`` replaced by flat columns ``<column>.<key>``.

    Nested objects flatten with dots; nulls give empty rows; a non-object value goes to ``<column>.value``.
    """
    import pandas as pd  # only to read rows: opening or writing a store (CLI start, a run) loads none

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
