"""Export results to Parquet or CSV and read them back with the schema's dtypes.

Parquet keeps every dtype exactly; CSV is the lowest common denominator (JSON columns stay
JSON text, times are ISO-8601, and an empty text cell reads back as null).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_harness.atomic import atomic_output
from genai_harness.errors import StoreError
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.schema import COLUMN_NAMES, PANDAS_DTYPES, SOURCE_COLUMN, apply_dtypes

if TYPE_CHECKING:
    import pandas as pd

SUPPORTED_SUFFIXES = (".parquet", ".csv")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise StoreError(
            f"cannot tell the format of {path}: suffix {suffix or '(none)'!r} is not one of "
            f"{', '.join(SUPPORTED_SUFFIXES)}"
        )
    return suffix


def check_export_path(path: str | Path) -> Path:
    """Raise :class:`StoreError` now if ``path`` has no supported suffix."""
    _suffix(Path(path))
    return Path(path)


def export(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` as Parquet or CSV, chosen by the suffix; return the path.

    The file appears whole or not at all (:func:`genai_harness.atomic.atomic_output`): an interrupted or failed
    export leaves an earlier file of that name as it was."""
    path = Path(path)
    suffix = _suffix(path)
    try:
        with atomic_output(path) as tmp:
            if suffix == ".parquet":
                df.to_parquet(tmp, index=False)
            else:
                df.to_csv(tmp, index=False)
    except (OSError, ValueError, ImportError) as exc:
        raise StoreError(f"cannot export results to {path}: {exc}") from exc
    return path


def import_file(path: str | Path) -> pd.DataFrame:
    """Read a Parquet or CSV export back into a DataFrame with the schema's dtypes."""
    import pandas as pd  # only when a file is read: the results package and the CLI start load no pandas

    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise StoreError(f"no results export at {path}")
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            text = {name: "string" for name, dtype in PANDAS_DTYPES.items() if dtype == "string"}
            # pandas 3 parses floats exactly by default (and deprecates the option); pandas 2 needs asking.
            exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
            df = pd.read_csv(path, dtype={**text, SOURCE_COLUMN: "string"}, **exact)
        return apply_dtypes(df)
    except (OSError, ValueError, ImportError) as exc:
        raise StoreError(f"cannot read results export {path}: {exc}") from exc


def stream_parquet(stores: Iterable[Any], path: str | Path, filter: ResultFilter | None = None, *,
                   batch: int = 10_000) -> int:
    """Write the rows ``filter`` selects from ``stores`` (results stores) to one Parquet file, ``batch`` rows at
    a time, never holding a whole store in memory; each row gains ``source_store``. Return the rows written.

    The rows go to a temporary file beside ``path``, renamed into place only after the last batch: an export
    cut short (Ctrl-C, SIGTERM, a full disk, a store that fails mid-way) leaves no partial file and an earlier
    file of that name as it was."""
    # pandas and pyarrow (heavy) only when a file is written: the results package and the CLI start load neither
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if _suffix(path) != ".parquet":
        raise StoreError(f"streaming export writes Parquet; give a .parquet path, not {path}")
    rows = 0
    try:
        with atomic_output(path) as tmp:
            writer = None
            try:
                for store in stores:
                    for chunk in store.iter_frames(filter or ALL_ROWS, batch=batch):
                        chunk[SOURCE_COLUMN] = pd.Series([store.location] * len(chunk), index=chunk.index,
                                                         dtype="string")
                        table = pa.Table.from_pandas(chunk, preserve_index=False)
                        if writer is None:
                            writer = pq.ParquetWriter(tmp, table.schema)
                        writer.write_table(table.cast(writer.schema))
                        rows += len(chunk)
            finally:
                if writer is not None:
                    writer.close()
            if writer is None:  # no rows: still a valid file with the schema's columns
                empty = pd.DataFrame({n: pd.Series(dtype=PANDAS_DTYPES[n]) for n in COLUMN_NAMES})
                empty[SOURCE_COLUMN] = pd.Series(dtype="string")
                empty.to_parquet(tmp, index=False)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise StoreError(f"cannot export results to {path}: {exc}") from exc
    return rows
