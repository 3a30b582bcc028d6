"""The analysis layer: metric metadata, statistics as pure functions, target key, long view, cell stats."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genai_harness.analysis import statistics as st
from genai_harness.analysis.keys import cell_label, target_label
from genai_harness.analysis.long_view import cell_statistics, long_view, run_status
from genai_harness.analysis.metric_info import METRICS, headline_metrics, metric, metrics_for
from genai_harness.errors import ConfigurationError
from genai_harness.results.schema import METRIC_COLUMNS


def test_every_metric_column_with_a_value_has_metadata_and_units_say_what_they_are() -> None:
    counts = {"n_input_tokens", "n_new_tokens", "batch_size"}
    assert set(METRIC_COLUMNS) - counts == set(METRICS)
    assert metric("peak_rss_mb").unit == "MiB" and metric("ttft_ms").lower_is_better
    assert not metric("decode_tps").lower_is_better and metric("ttft_ms").title == "TTFT (ms)"
    assert [m.name for m in headline_metrics("text2text")] == ["ttft_ms", "tpot_ms", "decode_tps", "load_s",
                                                               "peak_rss_mb"]
    assert {m.name for m in metrics_for("text2image", "accuracy")} == {"ref_psnr_db"}
    with pytest.raises(ConfigurationError, match=r"unknown metric 'ttft'.*ttft_ms"):
        metric("ttft")


def test_statistics_are_pure_seeded_and_handle_degenerate_input() -> None:
    data = [10.0, 11.0, 9.5, 10.2, 10.8, 9.9, 10.1]
    assert st.median(data) == 10.1 and st.percentile([1, 2, 3, 4], 50) == 2.5
    low, high = st.bootstrap_ci(data)
    assert low <= st.median(data) <= high and (low, high) == st.bootstrap_ci(data)
    assert math.isnan(st.bootstrap_ci([5.0])[0]) and st.bootstrap_ci([3.0, 3.0]) == (3.0, 3.0)
    assert math.isnan(st.median([])) and math.isnan(st.median([None, float("nan")]))  # type: ignore[list-item]
    assert st.ratio_of_medians([10, 10, 10], [11, 11, 11]) == pytest.approx(1.1)
    assert st.ratio_ci([10, 10], [12, 12]) == pytest.approx((1.2, 1.2))
    summary = st.summarize(data)
    assert summary.n == 7 and summary.ci_low <= summary.median <= summary.ci_high and summary.p99 <= 11.0


def test_rank_test_and_ratio_interval_separate_a_real_shift_from_noise() -> None:
    rng = np.random.default_rng(1)
    base = list(10 + rng.normal(0, 0.3, 30))
    same = list(10 + rng.normal(0, 0.3, 30))
    slower = [v * 1.2 for v in list(10 + rng.normal(0, 0.3, 30))]
    assert st.rank_test(base, same) > 0.01 and st.rank_test(base, slower) < 1e-6
    low, high = st.ratio_ci(base, slower)
    assert 1.1 < low < 1.2 < high < 1.3
    low, high = st.ratio_ci(base, same)
    assert low < 1.0 < high
    assert st.rank_test([1.0, 1.0], [1.0, 1.0]) == 1.0 and math.isnan(st.rank_test([1.0], [1.0, 2.0]))
    assert st.geometric_mean([1.0, 4.0]) == pytest.approx(2.0)


PROVIDERS = {"CPU": "CPUExecutionProvider", "CPU:OpenVINO": "OpenVINOExecutionProvider"}


def _rows() -> pd.DataFrame:
    rows = []
    for framework, device, env, precision in (("onnxruntime", "CPU", "default", "f32"),
                                              ("onnxruntime", "CPU:OpenVINO", "ort-openvino", "f32"),
                                              ("openvino.genai", "CPU", "default", "bf16"),
                                              ("openvino.genai", "CPU", "default", "f32")):
        for rep, ttft in enumerate((5.0, 6.0, 7.0)):
            rows.append({"run_id": "r1", "run_started_at": "2026-11-28T00:00:00+00:00", "status": "ok",
                         "framework": framework, "device": device, "environment": env,
                         "execution_provider": PROVIDERS[device] if framework == "onnxruntime" else None,
                         "precision": precision, "threads": 2, "task": "text2text", "workload_id": "w",
                         "model_id": "m", "repetition": rep, "ttft_ms": ttft, "tpot_ms": None})
    rows.append({**rows[0], "status": "failed", "ttft_ms": None, "repetition": None, "error": "boom",
                 "workload_id": "w2"})
    return pd.DataFrame(rows)


def test_target_key_keeps_runtimes_environments_and_precisions_apart() -> None:
    df = _rows()
    labels = {target_label(r) for r in df.to_dict("records")}
    assert labels == {"onnxruntime CPU f32 x2", "onnxruntime CPU:OpenVINO@ort-openvino f32 x2",
                      "openvino.genai CPU bf16 x2", "openvino.genai CPU f32 x2"}
    assert cell_label(df.iloc[3].to_dict()) == "onnxruntime CPU:OpenVINO@ort-openvino | w | m"


def test_the_runtime_shows_beside_the_target_without_splitting_it() -> None:
    from genai_harness.analysis.keys import runtime_note
    from genai_harness.analysis.summary import summary_table

    row = {"framework": "openvino.genai", "device": "CPU", "precision": "f32", "threads": 2}
    assert runtime_note({**row, "runtime": "openvino"}) == " via openvino"
    assert runtime_note({**row, "runtime": "openvino.genai"}) == runtime_note(row) == ""
    assert target_label({**row, "runtime": "openvino"}) == target_label(row)  # older rows stay in the group
    table = summary_table([{**row, "runtime": "openvino", "status": "ok", "workload_id": "classify-b1",
                            "model_id": "squeezenet", "task": "classification", "inference_ms": 1.0}])
    assert "openvino.genai CPU f32 x2 via openvino" in table


def test_long_view_and_cell_statistics() -> None:
    df = _rows()
    long = long_view(df)
    assert set(long["metric"]) == {"ttft_ms"} and len(long) == 12  # the failed row and empty tpot are gone
    assert set(long["unit"]) == {"ms"} and set(long["better"]) == {"lower"}
    stats = cell_statistics(df)
    assert len(stats) == 4 and (stats["median"] == 6.0).all() and (stats["n"] == 3).all()
    assert (stats["ci_low"] <= stats["median"]).all() and (stats["median"] <= stats["ci_high"]).all()
    assert len(cell_statistics(df[df["status"] == "failed"])) == 0
    status = run_status(df)
    assert status.to_dict("records")[0] | {"started": None} == {"run_id": "r1", "started": None, "rows": 13,
                                                                 "cells": 4, "failed": 1, "skipped": 0}


def test_cold_start_by_target_gives_each_compiling_target_its_medians_and_its_cache_hits() -> None:
    from support.frames import results_frame

    from genai_harness.analysis.long_view import cold_start_by_target

    frame = results_frame(devices=2, runs=2, tasks=("classification",), failed=0)
    assert cold_start_by_target(frame).empty  # no target compiled (or a store older than schema 6)
    gpu = frame["device"] == "GPU"
    frame = frame.assign(cache_key=None, compile_s=None, load_cold_s=None, load_warm_s=None, cache_mib=None,
                         cache_hit=None)
    runs = frame["run_id"] == "run-000"
    frame.loc[gpu, ["cache_key", "cache_mib"]] = ["openvino_2026/GPU/tiny-vit-1", 12.0]
    frame.loc[gpu & runs, ["compile_s", "load_cold_s", "load_warm_s", "cache_hit"]] = [9.0, 10.0, 1.0, 1]
    frame.loc[gpu & ~runs, ["compile_s", "load_cold_s", "load_warm_s", "cache_hit"]] = [11.0, 12.0, 3.0, 0]
    table = cold_start_by_target(frame)
    assert len(table) == 1 and table.iloc[0]["model_id"] == "tiny-vit" and "GPU" in table.iloc[0]["target"]
    assert table.iloc[0][["compile_s", "load_cold_s", "load_warm_s", "cache_mib"]].tolist() == [10.0, 11.0, 2.0, 12.0]
    assert table.iloc[0]["warm loads from cache"] == "1 of 2"  # one cell per run, not one per repetition
