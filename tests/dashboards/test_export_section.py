"""The report's export matrix section: shown for the exports suite's cells only, the runtime's words escaped."""

from __future__ import annotations

import json

import pandas as pd

from genai_harness.dashboards.report_html import export_section


def _row(workload: str, status: str = "ok", error: str | None = None) -> dict:
    return {"task": "text2text", "workload_id": workload, "model_id": "m", "framework": "onnxruntime",
            "runtime": "onnxruntime", "device": "CPU", "execution_provider": "OpenVINOExecutionProvider",
            "environment": "ort-openvino", "status": status, "error": error, "error_type": None,
            "exporter": "mobius-onnx (onnx-standard)", "exporter_version": "0.1.0", "ref_token_agreement": 1.0,
            "ref_first_divergence": 48, "model_bytes": 2 ** 20, "op_census": json.dumps({"ai.onnx": {"Add": 1}})}


def test_the_section_shows_export_cells_with_their_words_escaped() -> None:
    html = str(export_section(pd.DataFrame([_row("export-p128-g32", "failed", "does not support <Attention>")])))
    assert "Export matrix (1 exports on 1 runtime/EP targets)" in html
    assert "does not support &lt;Attention&gt;" in html and "<Attention>" not in html
    assert "onnxruntime/OpenVINOExecutionProvider@ort-openvino" in html


def test_other_text_runs_show_no_export_section() -> None:
    assert str(export_section(pd.DataFrame([_row("text-p128-g32")]))) == ""
    assert str(export_section(pd.DataFrame())) == ""
