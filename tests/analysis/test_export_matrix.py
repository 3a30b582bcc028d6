"""The export matrix over result rows (pure): the worst outcome per export x target, divergence from the
checkpoint's reference, refusals, crashes and failed exports, and the per-cell table with the runtime's words."""

from __future__ import annotations

import json

import pandas as pd

from genai_harness.analysis.export_matrix import export_matrix, export_table


def _row(model: str, framework: str, status: str = "ok", **extra: object) -> dict:
    return {"task": "text2text", "model_id": model, "framework": framework, "runtime": None, "device": "CPU",
            "execution_provider": "CPUExecutionProvider", "environment": "default", "status": status,
            "exporter": extra.pop("exporter", "mobius-onnx (onnx-standard)"), "exporter_version": "0.1.0",
            "error_type": None, "error": None, "ref_token_agreement": 1.0, "ref_first_divergence": 32,
            "ttft_ms": 10.0, "tpot_ms": 1.0, "model_bytes": 2 ** 21,
            "op_census": json.dumps({"ai.onnx": {"Attention": 2}}), **extra}


def test_the_worst_outcome_of_each_export_and_target() -> None:
    frame = pd.DataFrame([
        _row("m", "onnxruntime_genai"),
        _row("m", "onnxruntime_genai", ref_token_agreement=0.5, ref_first_divergence=7),
        _row("m-int4", "onnxruntime_genai", status="failed", error_type="OrtError", error="Load model failed: x"),
        _row("m-int4", "openvino.genai", status="crashed", execution_provider="openvino_cpu_plugin"),
        {**_row("m-ov", "onnxruntime_genai", status="failed", error_type="ExportFailed",
                error="export failed: boom"), "framework": None},
        {**_row("m", "onnxruntime_genai"), "status": "skipped"},
        {**_row("x", "onnxruntime_genai"), "task": "operator"},
    ])
    matrix = export_matrix(frame)
    assert matrix.loc["m [mobius-onnx (onnx-standard) 0.1.0]", "onnxruntime_genai/CPUExecutionProvider@default"] \
        == "ok, diverges at 7"
    assert matrix.loc["m-int4 [mobius-onnx (onnx-standard) 0.1.0]",
                      "openvino.genai/openvino_cpu_plugin@default"] == "crashed"
    assert matrix.loc["m-int4 [mobius-onnx (onnx-standard) 0.1.0]",
                      "onnxruntime_genai/CPUExecutionProvider@default"] == "failed"
    assert matrix.loc["m-ov [mobius-onnx (onnx-standard) 0.1.0]", "(no runtime)"] == "export failed"
    assert not any(label.startswith("x ") for label in matrix.index)
    table = export_table(frame).set_index(["export", "target"])
    cpu = "onnxruntime_genai/CPUExecutionProvider@default"
    refused = table.loc[("m-int4 [mobius-onnx (onnx-standard) 0.1.0]", cpu)]
    assert refused["error"] == "Load model failed: x"
    ok = table.loc[("m [mobius-onnx (onnx-standard) 0.1.0]", cpu)]
    assert ok["model_mb"] == 2.0 and ok["ops"] == "ai.onnx 2" and ok["ttft_ms"] == 10.0


def test_rows_without_export_provenance_make_no_matrix() -> None:
    assert export_matrix(pd.DataFrame([{**_row("m", "onnxruntime_genai"), "exporter": None}])).empty
    assert export_matrix(pd.DataFrame()).empty and export_table(pd.DataFrame()).empty
