"""Stores made for tests: the rows of a cell, stores of older schemas (0 and 3), varied rows, an immutable file."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from genai_harness.results.schema import COLUMN_NAMES, COLUMNS, PANDAS_DTYPES, columns_for_version
from genai_harness.results.store import ResultStore
from genai_harness.results.stores.layout import CELL_COLUMNS


def cell_rows(run_id: str = "run-1", n: int = 3, **extra: Any) -> list[dict[str, Any]]:
    """The rows of one successful text2text cell with ``n`` repetitions."""
    base = {
        "run_id": run_id,
        "run_started_at": "2024-05-01T12:00:00+00:00",
        "machine_fingerprint": "fp-a",
        "hostname": "host-a",
        "machine_profile": {"cpu": "Test CPU", "memory_gb": 16},
        "runtime_versions": {"onnxruntime": "1.31.0"},
        "framework": "onnxruntime",
        "device": "CPU:CPUExecutionProvider",
        "device_options": {"intra_op_num_threads": 4},
        "task": "text2text",
        "workload_id": "chat-short",
        "workload_version": 1,
        "model_id": "tiny-llm",
        "status": "ok",
        "ttft_ms": 12.5,
        "n_new_tokens": 32,
    }
    return [{**base, **extra, "repetition": i, "e2e_ms": 100.0 + i} for i in range(n)]


def assert_schema_frame(df: pd.DataFrame) -> None:
    assert list(df.columns) == list(COLUMN_NAMES)
    assert {name: str(dtype) for name, dtype in df.dtypes.items()} == PANDAS_DTYPES


def make_v0_store(path: Path) -> None:
    """A store as the pre-release schema 0 wrote it: no itl_p90_ms, no native_metrics, rollback journal."""
    columns = ", ".join(f"{c.name} {c.sql_type}" for c in columns_for_version(0))
    names = [c.name for c in columns_for_version(0)]
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, {columns})")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "0"), ("created_at", "2024-01-01")])
        row = {"run_id": "old", "status": "ok", "schema_version": 0, "ttft_ms": 9.0, "repetition": 0}
        conn.execute(
            f"INSERT INTO results ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [row.get(n) for n in names],
        )
    conn.close()


def make_normalized_store(path: Path, rows: list[dict], version: int) -> None:
    """A store of schema ``version`` (3 or later): the normalized layout without the columns later versions added
    (made by writing with this harness, then dropping them, which is what a genai-harness of that schema wrote)."""
    ResultStore(path).append(rows)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for column in COLUMNS:
            if column.since > version:
                table = "cells" if column.name in CELL_COLUMNS else "results"
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))


def make_v3_store(path: Path, rows: list[dict]) -> None:
    """A schema-3 store (see :func:`make_normalized_store`)."""
    make_normalized_store(path, rows, 3)


def varied_rows() -> list[list[dict]]:
    """Cells of two machines with different profiles, a cell without any shared JSON, a crashed cell, and the
    schema-4 columns set on one cell: what a read must join back from cells and blobs."""
    at = {"recorded_at": "2024-05-01T12:00:01+00:00"}
    return [
        cell_rows(run_id="ra", n=4, machine_profile={"cpu": "x" * 3000}, **at),
        cell_rows(run_id="ra", n=2, model_id="m2", machine_profile={"cpu": "x" * 3000}, numerics={"f": 1}, **at),
        cell_rows(run_id="rb", n=3, machine_fingerprint="fp-b", machine_profile={"cpu": "y"},
                  runtime="openvino", itl_by_position_ms=[1.5, 2.0], run_started_at="2024-06-01T00:00:00Z", **at),
        cell_rows(run_id="rc", n=2, machine_profile=None, runtime_versions=None, device_options=None, **at),
        [{"run_id": "rb", "status": "crashed", "error": "segfault", "machine_fingerprint": "fp-b",
          "machine_profile": {"cpu": "y"}, **at}],
    ]


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i path`` for a while (skips where the file system or user cannot)."""
    proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot make {path} immutable here: {proc.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
