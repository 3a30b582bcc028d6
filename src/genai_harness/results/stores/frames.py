"""Building a results DataFrame from a normalized store's three parts: rows, the cells they belong to, blobs.

A slice of 10k rows typically spans a few hundred cells and a handful of blobs (a machine's profile).
Reading every cell column once per row would copy each blob's JSON into every row and convert it again in
pandas; here each cell is converted once, each blob is one shared string, and the rows then take their
cell's values by position (a vectorized take, no per-row Python work).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from genai_harness.errors import StoreError
from genai_harness.results.schema import apply_dtypes

if TYPE_CHECKING:
    import pandas as pd


def distinct(values: Sequence[Any]) -> list[Any]:
    """The distinct non-null ``values``, in first-seen order."""
    return [v for v in dict.fromkeys(values) if v is not None]


def column_values(records: Sequence[Sequence[Any]], position: int) -> list[Any]:
    """Column ``position`` of ``records`` (a list of tuples) as a list."""
    return [r[position] for r in records]


def _typed(records: Sequence[Sequence[Any]], names: Sequence[str]) -> pd.DataFrame:
    """``records`` (columns ``names``) as a DataFrame with the schema's dtypes."""
    import pandas as pd  # only to read rows: opening or writing a store (CLI start, a run) loads none

    return apply_dtypes(pd.DataFrame.from_records(list(records), columns=list(names)))


def _blob(blobs: Mapping[Any, str], blob_id: Any, column: str) -> str:
    if blob_id not in blobs:
        raise ValueError(f"a cell's {column} refers to blob {blob_id!r}, which is not in the store")
    return blobs[blob_id]


def cell_frame(cell_records: Sequence[Sequence[Any]], cell_names: Sequence[str], shared: Sequence[str],
               blobs: Mapping[Any, str]) -> pd.DataFrame:
    """The cells as a typed DataFrame indexed by cell id: ``cell_records`` are ``(id, *values)`` tuples of
    ``cell_names``, the ``shared`` ones holding a blob id that ``blobs`` maps to its text."""
    import pandas as pd  # only to read rows: opening or writing a store (CLI start, a run) loads none

    ids = column_values(cell_records, 0)
    columns: dict[str, list[Any]] = {}
    for position, name in enumerate(cell_names, start=1):
        values = column_values(cell_records, position)
        columns[name] = [None if v is None else _blob(blobs, v, name) for v in values] if name in shared else values
    return apply_dtypes(pd.DataFrame(columns, index=pd.Index(ids, dtype="int64"), columns=list(cell_names)))


def assemble(row_records: Sequence[Sequence[Any]], row_names: Sequence[str], cell_records: Sequence[Sequence[Any]],
             cell_names: Sequence[str], shared: Sequence[str], blobs: Mapping[Any, str], wanted: Sequence[str],
             location: str = "the store") -> pd.DataFrame:
    """The result frame of one read: ``row_records`` are ``(cell_id, *values)`` tuples of ``row_names``; each
    row takes its cell's columns from ``cell_records`` (see :func:`cell_frame`); ``wanted`` columns found in
    neither are null. A value that does not fit the schema raises :class:`StoreError` naming ``location``."""
    import pandas as pd  # only to read rows: opening or writing a store (CLI start, a run) loads none

    try:
        cells = cell_frame(cell_records, cell_names, shared, blobs)
        rows = _typed(row_records, ["_cell_id", *row_names])  # apply_dtypes leaves the id as it is
        positions = cells.index.get_indexer(rows.pop("_cell_id").to_numpy(dtype="int64"))
        if len(positions) and positions.min() < 0:
            raise ValueError("a row refers to a cell that is not in the store")
        taken = cells.take(positions).reset_index(drop=True)
        absent = [n for n in wanted if n not in rows.columns and n not in taken.columns]
        nulls = apply_dtypes(pd.DataFrame({n: [None] * len(rows) for n in absent}, index=rows.index, dtype=object))
        parts = {name: rows[name] if name in rows.columns else taken[name] if name in taken.columns else nulls[name]
                 for name in wanted}
        return pd.DataFrame(parts, index=pd.RangeIndex(len(rows)), columns=list(wanted))
    except (ValueError, TypeError, OverflowError) as exc:  # a value a genai-harness never wrote
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise StoreError(f"{location} holds values that do not fit its schema (corrupt?): {first}; "
                         "restore it from a copy or move it away") from None
