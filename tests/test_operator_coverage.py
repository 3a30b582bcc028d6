"""The coverage matrix is a pure function of result rows: ok, wrong result, not supported, crashed."""

from __future__ import annotations

import pandas as pd

from genai_harness.results.coverage import coverage_counts, coverage_matrix


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


def test_results_coverage_shows_real_cells_from_a_real_store(tmp_path) -> None:
    import sys

    from conftest import assert_one_error_line, run_cli

    from genai_harness.results.store import ResultStore
    from genai_harness.workloads.operators.cells import OperatorTarget, run_cell
    from genai_harness.workloads.operators.spec import OperatorSpec

    store_path = tmp_path / "ops.sqlite"
    store = ResultStore(store_path)
    target = OperatorTarget("onnxruntime", "CPUExecutionProvider", sys.executable)
    for op in ("Attention", "FlexAttention"):
        spec = OperatorSpec(op, q_heads=4, kv_heads=2, head_size=16, q_len=8, kv_len=16)
        row = run_cell(spec, target, reps=2, peak_gflops=10.0)
        store.append([{**row, "run_id": "r1", "run_started_at": "2026-11-29T00:00:00+00:00", "repetition": 0}])
    rows = store.read()
    flex = rows[rows["workload_id"].str.startswith("FlexAttention")].iloc[0]
    assert flex["status"] == "failed" and "not a registered function/op" in flex["error"]
    proc = run_cli("results", "--store", store_path, "--coverage")
    assert proc.returncode == 0, proc.stderr
    assert "not supported" in proc.stdout and " ok" in proc.stdout
    empty = tmp_path / "empty.sqlite"
    ResultStore(empty).append([{**row, "task": "text2text", "run_id": "r2",
                                "run_started_at": "2026-11-29T00:00:00+00:00", "repetition": 0}])
    assert "no operator cells" in assert_one_error_line(run_cli("results", "--store", empty, "--coverage"))
