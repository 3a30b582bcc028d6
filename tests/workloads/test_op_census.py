"""The op census of an export: real bundled model files (the onnxruntime-genai builder's ONNX with contrib ops,
optimum-intel's IR), standard versus contrib domains, and a corrupt file refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_harness.errors import ModelError
from genai_harness.workloads.catalog import MODELS_DIR
from genai_harness.workloads.op_census import census_summary, census_totals, is_standard, model_census

TINY = MODELS_DIR / "tiny-llm"


def test_the_builder_export_counts_its_contrib_ops_by_domain() -> None:
    census = model_census(TINY / "onnxruntime_genai")
    assert census is not None and census["com.microsoft"]["GroupQueryAttention"] == 4
    standard, contrib = census_totals(census)
    assert contrib == sum(census["com.microsoft"].values()) and standard == sum(census["ai.onnx"].values()) > 0
    assert "com.microsoft 12 (GroupQueryAttention 4, SkipSimplifiedLayerNormalization 8)" in census_summary(census)


def test_an_openvino_ir_is_all_standard_and_summarised_as_one_opset_family() -> None:
    census = model_census(TINY / "openvino")
    assert census is not None and all(domain.startswith("openvino.opset") for domain in census)
    standard, contrib = census_totals(census)
    assert contrib == 0 and standard > 100
    assert census_summary(census) == f"openvino {standard}"


@pytest.mark.parametrize(("domain", "standard"), [("ai.onnx", True), ("ai.onnx.ml", True), ("com.microsoft", False),
                                                  ("openvino.opset8", True), ("openvino.extension", False),
                                                  ("custom.domain", False)])
def test_standard_domains(domain: str, standard: bool) -> None:
    assert is_standard(domain) is standard


def test_a_folder_without_a_model_has_no_census_and_a_corrupt_file_is_one_line(tmp_path: Path) -> None:
    assert model_census(tmp_path) is None
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError, match=r"model.onnx is not a readable ONNX model") as info:
        model_census(tmp_path)
    assert "\n" not in str(info.value)
