"""The normalized layout of a store (schema 3 on) and a row's identity.

Schema 3 keeps what repeats within a cell once, in ``cells`` (run, machine, where and what ran:
``CELL_COLUMNS``), and one small row per repetition in ``results`` (``ROW_COLUMNS``, ``cell_id``).
Each row has ``row_key``, a digest of its column values (see :func:`identity_values`): a row merged
twice, from any store into any other, is written once. Stores of schema 0-2 (one wide ``results`` table)
are read as they are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from genai_harness.results.schema import COLUMN_NAMES, identity_values, normalize_row
from genai_harness.version import __version__

NORMALIZED_SINCE = 3
"""The first schema version with the cells/results split."""
ADDITIVE_SINCE = NORMALIZED_SINCE
"""From this version on, a migration only adds nullable columns: a writer may apply it without being asked."""
CELL_COLUMNS: tuple[str, ...] = (
    "run_id", "run_started_at", "harness_version", "machine_fingerprint", "hostname", "machine_profile",
    "runtime_versions", "environment", "python_executable", "framework", "device", "device_identifier",
    "execution_provider", "device_options", "actual_device", "task", "workload_id", "workload_version",
    "workload_hash", "model_id", "model_format", "model_hash", "precision", "precision_requested", "threads",
    "threads_requested", "weight_dtypes", "numerics", "batch_requested", "energy_source", "injected_slowdown",
    "runtime", "itl_by_position_ms", "weight_precision", "kv_cache_precision", "measure", "family",
    "model_weights",
    "ep_library",  # plugin EP libraries (schema 6)
    "worker_session",  # ab --rounds-per-worker (schema 6)
    # exports (issue 21)
    "exporter", "exporter_version", "export_s", "model_bytes", "ops_standard", "ops_contrib", "op_census",
    "ep_node_share", "ep_fallback",
    "job_id",  # the CI job a run belongs to (schema 7)
)
"""Columns stored once per distinct cell (every filterable column but ``status`` is one)."""
SHARED_COLUMNS: tuple[str, ...] = ("machine_profile", "runtime_versions", "device_options", "numerics")
"""Cell columns of large JSON that many cells repeat (a machine's profile): kept once in ``blobs``, the cell
holding the blob's id."""
ROW_COLUMNS: tuple[str, ...] = tuple(n for n in COLUMN_NAMES if n not in CELL_COLUMNS)
"""Columns stored per measured repetition."""
READ_BATCH = 50_000
"""Rows fetched at a time when streaming a store."""


def harness_version() -> str:
    """This genai-harness's version."""
    return __version__


def digest(values: Sequence[Any]) -> str:
    """A stable 128-bit hex digest of a sequence of storage-form values."""
    text = json.dumps(list(values), separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def row_key(record: Mapping[str, Any]) -> str:
    """A row's identity: the digest of all its schema columns in storage form (see :func:`normalize_row`)."""
    return digest(identity_values(record, COLUMN_NAMES))


def cell_key(record: Mapping[str, Any]) -> str:
    """A cell's identity: the digest of its cell columns in storage form."""
    return digest(identity_values(record, CELL_COLUMNS))


def from_stored(values: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row back in normalized form (columns an old store lacks are None)."""
    record = {name: values.get(name) for name in COLUMN_NAMES}
    return normalize_row(record) if record["run_id"] and record["status"] else record
