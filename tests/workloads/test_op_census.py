"""The op census of an export: real bundled model files (the onnxruntime-genai builder's ONNX with contrib ops,
optimum-intel's IR), standard versus contrib domains, and a corrupt file refused in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def test_a_census_is_remembered_per_file_state_and_read_back_without_onnx(tmp_path: Path) -> None:
    """A fresh process reads a remembered census (and producer) without importing onnx (0.45 s of a one-cell run's
    parent); a changed file is counted again, and a corrupt remembered file is never trusted."""
    folder = tmp_path / "m"
    shutil.copytree(TINY / "onnxruntime_genai", folder)
    env = {**os.environ, "GENAI_HARNESS_CACHE": str(tmp_path / "cache")}
    code = ("import json, sys; from pathlib import Path; from genai_harness.workloads.op_census import model_census; "
            "from genai_harness.workloads.export_info import export_info; "
            f"info = export_info(Path({str(folder)!r})); "
            f"print(json.dumps([model_census(Path({str(folder)!r})), 'onnx' in sys.modules]))")

    def census_in_a_fresh_process() -> tuple[dict, bool]:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        census, imported = json.loads(out.stdout)
        return census, imported

    first, imported = census_in_a_fresh_process()
    assert imported and first == model_census(TINY / "onnxruntime_genai")  # counted: onnx was imported
    again, imported = census_in_a_fresh_process()
    assert again == first and not imported  # read back: no onnx in the process at all
    (kept,) = (tmp_path / "cache" / "census").glob("*.json")
    kept.write_text('{"ai.onnx": {"MatMul": "many"}}')  # not a census: counted again and rewritten
    assert census_in_a_fresh_process() == (first, True) and json.loads(kept.read_text())["census"] == first
    model = folder / "model.onnx"
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the file changed: counted again
    assert census_in_a_fresh_process() == (first, True)
    assert len(list((tmp_path / "cache" / "census").glob("*.json"))) == 2
