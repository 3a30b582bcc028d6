"""An int4 model run on both runtimes through the CLI (real workers, a real store): every row, the run summary,
``results`` and the report say int4 weights on both, beside the compute and KV-cache precisions read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_cli
from support.quantized import openvino_compressed, ort_genai_quantized

from genai_harness.results.schema import SCHEMA_VERSION
from genai_harness.results.store import ResultStore

pytest.importorskip("onnxruntime_genai")
pytest.importorskip("openvino_genai")

WORKLOAD = """id = "q-p16-g4"
version = 1
task = "text2text"
[input]
prompt_tokens = 16
new_tokens = 4
[run]
warmup = 0
repetitions = 2
timeout_s = 120
"""


@pytest.fixture(scope="module")
def quantized_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("quantized-run")
    ort = ort_genai_quantized(root / "ort-int4", block=32, symmetric=False, accuracy_level=4)
    ov = openvino_compressed(root / "ov-int4", kind="u4", group=32)
    (root / "genai-harness.toml").write_text(
        f'[models.tiny-int4]\ntask = "text2text"\n[models.tiny-int4.formats]\nonnxruntime_genai = "{ort}"\n'
        f'openvino = "{ov}"\n')
    (root / "w.toml").write_text(WORKLOAD)
    (root / "s.suite.toml").write_text('id = "q"\n[[entries]]\nworkload = "w.toml"\nmodels = ["tiny-int4"]\n')
    store = root / "s.sqlite"
    proc = run_cli("run", "--suite", "s.suite.toml", "--framework", "onnxruntime_genai", "--framework",
                   "openvino.genai", "--device", "CPU", "--store", store, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root, store, proc.stdout + proc.stderr


def test_every_row_says_int4_weights_on_both_runtimes(quantized_run: tuple[Path, Path, str]) -> None:
    _root, store, _said = quantized_run
    frame = ResultStore(store).read()
    assert (frame["status"] == "ok").all() and set(frame["framework"]) == {"onnxruntime_genai", "openvino.genai"}
    by_framework = frame.groupby("framework").first()
    ort, ov = by_framework.loc["onnxruntime_genai"], by_framework.loc["openvino.genai"]
    assert ort["weight_precision"].startswith("int4 asym, block 32 (MatMulNBits)")
    assert ov["weight_precision"].startswith("int4 asym, group 32 (u4)")
    assert ort["precision"] == "int8" and ort["kv_cache_precision"] == "f32"  # accuracy_level 4; past_key_values
    assert ov["precision"] in ("f32", "bf16") and ov["kv_cache_precision"]
    assert frame["schema_version"].eq(SCHEMA_VERSION).all()


def test_the_run_summary_results_and_report_show_the_three_precisions(quantized_run: tuple[Path, Path, str]
                                                                       ) -> None:
    root, store, said = quantized_run
    for text in (said, run_cli("results", "--store", store, "--run", "last", cwd=root).stdout):
        assert "weights" in text and "KV cache" in text
        assert "int4 asym b32" in text and "int4 asym g32" in text
    proc = run_cli("report", "--store", store, "--out", root / "report", cwd=root)
    assert proc.returncode == 0, proc.stderr
    page = next((root / "report").glob("*.html")).read_text()
    assert "Numerics per cell" in page
    assert "int4 asym, block 32 (MatMulNBits)" in page and "int4 asym, group 32 (u4)" in page
