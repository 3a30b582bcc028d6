"""Storage: the schema of one row per measured repetition, queries, the stores (SQLite, PostgreSQL) behind one door
(:mod:`genai_harness.results.store`), and Parquet/CSV export.

Importing this package imports no pandas; the readers import it when called.
"""

from genai_harness.results.export import export, import_file
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.schema import (
    COLUMN_NAMES,
    COLUMNS,
    JSON_COLUMNS,
    METRIC_COLUMNS,
    SCHEMA_VERSION,
    normalize_row,
)
from genai_harness.results.store import (
    DEFAULT_STORE,
    ResultStore,
    expand_json,
    load_results,
    open_for_writing,
    open_store,
    resolve_store_spec,
)

__all__ = [
    "ALL_ROWS",
    "COLUMNS",
    "COLUMN_NAMES",
    "DEFAULT_STORE",
    "JSON_COLUMNS",
    "METRIC_COLUMNS",
    "SCHEMA_VERSION",
    "ResultFilter",
    "ResultStore",
    "expand_json",
    "export",
    "import_file",
    "load_results",
    "normalize_row",
    "open_for_writing",
    "open_store",
    "resolve_store_spec",
]
