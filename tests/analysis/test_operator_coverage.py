"""The coverage matrix is a pure function of result rows: ok, wrong result, not supported, crashed."""

from __future__ import annotations

import pandas as pd

from genai_harness.analysis.coverage import coverage_counts, coverage_matrix


def _row(workload: str, framework: str, ep: str, status: str, within: float | None, env: str = "default"
         ) -> dict:
    return {"task": "operator", "workload_id": workload, "framework": framework, "execution_provider": ep,
            "device": "CPU", "environment": env, "status": status, "ref_within_tolerance": within}


def test_each_outcome_lands_in_its_cell_and_the_worst_repetition_wins() -> None:
    rows = [
        _row("Attention24-causal", "onnxruntime", "CPUExecutionProvider", "ok", 1),
        _row("Attention24-causal", "onnxruntime", "CPUExecutionProvider", "ok", 0),  # one wrong repetition
        _row("Attention24-causal", "openvino", "", "ok", 1),
        _row("FlexAttention-causal", "onnxruntime", "CPUExecutionProvider", "failed", None),
        _row("FlexAttention-causal", "openvino", "", "crashed", None),
        _row("FlexAttention-causal", "onnxruntime", "OpenVINOExecutionProvider", "interrupted", None,
             env="ort-openvino"),
        {"task": "text2text", "workload_id": "chat", "framework": "onnxruntime", "execution_provider": "x",
         "device": "CPU", "environment": "default", "status": "ok", "ref_within_tolerance": None},
    ]
    matrix = coverage_matrix(pd.DataFrame(rows))
    ort, ov = "onnxruntime/CPUExecutionProvider@default", "openvino/CPU@default"
    assert matrix.loc["Attention24-causal", ort] == "wrong result"
    assert matrix.loc["Attention24-causal", ov] == "ok"
    assert matrix.loc["FlexAttention-causal", ort] == "not supported"
    assert matrix.loc["FlexAttention-causal", ov] == "crashed"
    assert list(matrix.index) == ["Attention24-causal", "FlexAttention-causal"]  # text2text row left out
    assert not any("ort-openvino" in c for c in matrix.columns)  # interrupted never ran
    counts = coverage_counts(matrix)
    assert counts.loc["ok", ov] == 1 and counts.loc["crashed", ov] == 1


def test_no_operator_rows_gives_an_empty_matrix() -> None:
    assert coverage_matrix(pd.DataFrame()).empty
    assert coverage_matrix(pd.DataFrame([{"task": "text2text", "status": "ok"}])).empty


def test_a_runtime_column_names_the_target_and_openvino_is_labelled_by_its_device() -> None:
    rows = [{**_row("Attention24-causal", "openvino.genai", "openvino_cpu_plugin", "ok", 1), "runtime": "openvino"},
            {**_row("Attention24-causal", "onnxruntime", "OpenVINOExecutionProvider", "failed", None,
                    env="ort-openvino"), "runtime": "onnxruntime"}]
    matrix = coverage_matrix(pd.DataFrame(rows))
    assert list(matrix.columns) == ["onnxruntime/OpenVINOExecutionProvider@ort-openvino", "openvino/CPU@default"]


def test_results_coverage_refuses_a_store_without_operator_cells(tmp_path) -> None:
    from support import assert_one_error_line, run_cli

    from genai_harness.results.store import ResultStore

    empty = tmp_path / "empty.sqlite"
    ResultStore(empty).append([{"task": "text2text", "workload_id": "chat", "framework": "onnxruntime",
                                "device": "CPU", "status": "ok", "run_id": "r2",
                                "run_started_at": "2026-11-29T00:00:00+00:00", "repetition": 0}])
    assert "no operator cells" in assert_one_error_line(run_cli("results", "--store", empty, "--coverage"))
