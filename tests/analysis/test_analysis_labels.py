"""Labels computed once per distinct combination equal the per-row labels (targets, cells, run status)."""

from __future__ import annotations

import pandas as pd
from support.frames import results_frame

from genai_harness.analysis.keys import cell_label, target_label
from genai_harness.analysis.long_view import row_labels, run_status, with_target


def test_target_and_cell_labels_match_the_per_row_functions() -> None:
    df = results_frame(devices=4, runs=2, repetitions=2)
    df.loc[df.index[:3], "precision"] = None  # a missing setting is its own target
    df.loc[df.index[3:5], "threads"] = float("nan")
    df.loc[df.index[5:7], "environment"] = "venv-b"
    targets = with_target(df)["target"].tolist()
    assert targets == [target_label(r) for r in df.to_dict("records")]
    assert len(set(targets)) == 7
    cells = row_labels(df, ("framework", "device", "environment", "workload_id", "model_id"), cell_label)
    assert cells.tolist() == [cell_label(r) for r in df.to_dict("records")]
    assert row_labels(df.iloc[:0], ("framework",), cell_label).empty


def test_run_status_counts_failed_and_skipped_cells_per_run() -> None:
    df = results_frame(devices=3, runs=2, repetitions=2, failed=1)
    skipped = (df["run_id"] == "run-001") & (df["device"] == "GPU") & (df["task"] == "text2image")
    df.loc[skipped, "status"] = "skipped"
    status = run_status(df).set_index("run_id")
    cells_per_run = 3 * 4  # 3 targets x (2 prompt lengths + image + classification)
    assert status.loc["run-000"].to_dict() | {"started": None} == {
        "started": None, "rows": 2 * cells_per_run, "cells": cells_per_run, "failed": 3, "skipped": 0}
    assert status.loc["run-001", "skipped"] == 1 and status.loc["run-001", "failed"] == 3
    assert str(status.loc["run-000", "started"]).startswith("2026-11-01")
    assert list(run_status(pd.DataFrame(columns=["run_id", "status"])).columns) == [
        "run_id", "started", "rows", "cells", "failed", "skipped"]


def test_numerics_by_cell_names_the_three_precisions_of_each_target_and_model() -> None:
    from genai_harness.analysis.long_view import numerics_by_cell

    df = results_frame(devices=2, runs=1, repetitions=2)
    assert numerics_by_cell(df).empty  # rows of a store older than schema 5 record no weight_precision
    df["weight_precision"] = "int4 asym, group 32 (u4)"
    df["kv_cache_precision"] = "u8"
    df.loc[df.index[0], "status"] = "failed"
    table = numerics_by_cell(df)
    assert list(table.columns) == ["target", "model_id", "precision", "weight_precision", "kv_cache_precision",
                                   "threads"]
    assert not table.duplicated().any() and len(table) == table[["target", "model_id"]].drop_duplicates().shape[0]
    assert set(table["target"]) == set(with_target(df[df["status"] == "ok"])["target"])
    assert (table["weight_precision"] == "int4 asym, group 32 (u4)").all()
    assert (table["kv_cache_precision"] == "u8").all()
