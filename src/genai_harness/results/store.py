"""The results store API: ``ResultStore(path)``, :func:`open_store`, :func:`load_results`, :func:`expand_json`.

The implementations live in :mod:`genai_harness.results.stores` (SQLite, PostgreSQL); this module is
the one way in that every reader uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from genai_harness.errors import StoreError
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.schema import JSON_COLUMNS, SOURCE_COLUMN, apply_dtypes
from genai_harness.results.stores import (
    DEFAULT_STORE,
    ResultStore,
    SQLStore,
    is_url,
    mask_url,
    open_store,
    resolve_store_spec,
)
from genai_harness.results.stores.urls import check_scheme

if TYPE_CHECKING:
    import pandas as pd

StoreSpec = str | Path
__all__ = ["DEFAULT_STORE", "ResultStore", "SQLStore", "expand_json", "iter_stores", "load_results", "mask_url",
           "open_store", "resolve_store_spec"]


def _store_specs(paths: StoreSpec | Sequence[StoreSpec]) -> list[str | Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise StoreError("no results store given; name one or more .sqlite files, folders holding them, "
                         "or postgresql:// URLs")
    specs: list[str | Path] = []
    for item in items:
        if is_url(item):
            check_scheme(str(item))
            specs.append(str(item))
            continue
        path = Path(item)
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
    import pandas as pd

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
