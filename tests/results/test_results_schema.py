"""The results schema: column order and types, and how a row is normalized for storage."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from genai_harness.errors import StoreError
from genai_harness.results.schema import (
    COLUMN_NAMES,
    JSON_COLUMNS,
    METRIC_COLUMNS,
    PANDAS_DTYPES,
    SCHEMA_VERSION,
    SQLITE_TYPES,
    columns_for_version,
    normalize_row,
)


def test_column_order_and_types() -> None:
    assert COLUMN_NAMES[:5] == ("run_id", "run_started_at", "recorded_at", "harness_version", "schema_version")
    assert COLUMN_NAMES.index("instructions_call") < COLUMN_NAMES.index("worker_session")  # added in 6, at the end
    assert {c.name for c in columns_for_version(6)} - {c.name for c in columns_for_version(5)} >= {"worker_session"}
    assert [c.name for c in columns_for_version(5)][-1] == "instructions_call"
    assert len(set(COLUMN_NAMES)) == len(COLUMN_NAMES)
    assert JSON_COLUMNS == ("machine_profile", "runtime_versions", "device_options", "native_metrics",
                            "itl_by_position_ms", "numerics", "op_census")
    assert METRIC_COLUMNS[0] == "load_s" and "peak_rss_mb" in METRIC_COLUMNS
    assert {"ttft_ms", "tpot_ms", "itl_p50_ms", "itl_p90_ms", "decode_tps", "n_new_tokens"} <= set(METRIC_COLUMNS)
    assert SQLITE_TYPES["ttft_ms"] == "REAL" and PANDAS_DTYPES["ttft_ms"] == "float64"
    assert SQLITE_TYPES["repetition"] == "INTEGER" and PANDAS_DTYPES["repetition"] == "Int64"
    assert SQLITE_TYPES["native_metrics"] == "TEXT" and PANDAS_DTYPES["native_metrics"] == "string"
    assert PANDAS_DTYPES["run_started_at"] == "datetime64[us, UTC]"
    old = {c.name for c in columns_for_version(0)}
    v1 = {c.name for c in columns_for_version(1)}
    assert v1 - old == {"itl_p90_ms", "native_metrics"}
    added_in_2 = set(COLUMN_NAMES) - v1
    assert {"precision", "threads", "numerics", "energy_j", "ref_psnr_db", "injected_slowdown"} <= added_in_2
    v3 = {c.name for c in columns_for_version(3)}
    v4 = {c.name for c in columns_for_version(4)}
    assert v4 - v3 == {"runtime", "itl_by_position_ms"}
    v5 = {c.name for c in columns_for_version(5)}
    assert {"ep_library"} <= set(COLUMN_NAMES) - v5  # plugin EP libraries (schema 6)
    assert "calib_ms" in set(COLUMN_NAMES) - v5  # schema 6: the machine-speed calibration kernel (issue 23)
    assert {"exporter", "exporter_version", "export_s", "model_bytes", "ops_standard", "ops_contrib", "op_census",
            "ep_node_share", "ep_fallback"} <= set(COLUMN_NAMES) - v5  # the export matrix (schema 6)
    assert v5 - v4 == {"weight_precision", "kv_cache_precision", "measure", "instructions_load",
                                      "instructions_prefill", "instructions_per_token", "instructions_per_step",
                                      "instructions_call", "family", "model_weights", "ref_source", "ref_error",
                                      "ref_answer_share", "ref_questions", "ref_nll", "ref_nll_checkpoint"}
    assert {"instructions_per_token", "instructions_call"} <= set(METRIC_COLUMNS)
    # schema 6, cold start and compiled caches (issue 22): row columns, the four figures measured metrics
    assert {"compile_s", "load_cold_s", "load_warm_s", "cache_mib", "cache_key", "cache_state", "cache_hit",
            "cache_note"} <= set(COLUMN_NAMES) - v5
    assert {"compile_s", "load_cold_s", "load_warm_s", "cache_mib"} <= set(METRIC_COLUMNS)
    assert "cache_key" not in METRIC_COLUMNS and PANDAS_DTYPES["cache_hit"] == "Int64"
    assert len(columns_for_version(SCHEMA_VERSION)) == len(COLUMN_NAMES)


def test_columns_added_after_schema_3_join_a_rows_identity_only_when_set() -> None:
    from genai_harness.results.schema import identity_values
    from genai_harness.results.stores.layout import digest, row_key

    row = normalize_row({"run_id": "r", "status": "ok", "framework": "openvino.genai", "ttft_ms": 1.0})
    v3_names = [c.name for c in columns_for_version(3)]
    assert row_key(row) == digest([row[n] for n in v3_names])  # what schema 3 computed for the same row
    with_runtime = {**row, "runtime": "openvino"}
    assert identity_values(with_runtime, COLUMN_NAMES)[-1] == ["runtime", "openvino"]
    assert row_key(with_runtime) != row_key(row)
    # a value cannot pass for another column's: the name travels with it
    swapped = {**row, "itl_by_position_ms": "openvino"}
    assert row_key(swapped) != row_key(with_runtime)


def test_normalize_fills_encodes_and_converts() -> None:
    row = normalize_row(
        {
            "run_id": "r1",
            "status": "ok",
            "device_options": {"b": 2, "a": [1, 2]},
            "native_metrics": '{"already": "json"}',
            "ttft_ms": np.float32(1.5),
            "n_new_tokens": np.int64(16),
            "tpot_ms": float("nan"),
            "batch_size": 4.0,
            "run_started_at": datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        }
    )
    assert list(row) == list(COLUMN_NAMES)
    assert row["hostname"] is None and row["repetition"] is None
    assert json.loads(row["device_options"]) == {"a": [1, 2], "b": 2}
    assert row["native_metrics"] == '{"already": "json"}'
    assert row["ttft_ms"] == 1.5 and type(row["ttft_ms"]) is float
    assert row["n_new_tokens"] == 16 and type(row["n_new_tokens"]) is int
    assert row["tpot_ms"] is None
    assert row["batch_size"] == 4 and type(row["batch_size"]) is int
    assert row["run_started_at"] == "2024-05-01T12:00:00+00:00"
    assert row["schema_version"] == SCHEMA_VERSION


def test_unknown_columns_are_rejected_by_name() -> None:
    with pytest.raises(StoreError, match="ttft_msec, zzz"):
        normalize_row({"run_id": "r", "status": "ok", "zzz": 1, "ttft_msec": 2.0})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"status": "ok"}, "run_id"),
        ({"run_id": "r"}, "status"),
        ({"run_id": "r", "status": "great"}, "not one of"),
        ({"run_id": "r", "status": "ok", "task": "text2video"}, "text2video"),
        ({"run_id": "r", "status": "ok", "repetition": 1.5}, "repetition"),
        ({"run_id": "r", "status": "ok", "ttft_ms": "fast"}, "ttft_ms"),
        ({"run_id": "r", "status": "ok", "hostname": {"a": 1}}, "hostname"),
        ({"run_id": "r", "status": "ok", "run_started_at": "yesterday"}, "ISO-8601"),
        ({"run_id": "r", "status": "ok", "recorded_at": datetime(2024, 1, 1)}, "timezone-aware"),
    ],
)
def test_bad_rows_are_rejected(row: dict, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        normalize_row(row)
