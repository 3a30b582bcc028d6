"""The exports suite (issue 21): every export of one checkpoint on every runtime that takes its format, for real.

The bundled tiny model's two exports (the onnxruntime-genai builder's, optimum-intel's IR) run on both runtimes with
their exporter, op census and size in every row and the matrix in ``results --coverage``; a stand-in build of a
family (tiny-llm copies, one mobius export, one export recorded as failed) gives one failed row in the exporter's
own words beside the cells that ran, and ``models build --exports`` adds the exports to a finished build in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import support
from test_model_build import _catalog, _fake_env, _finished_build

from genai_harness.results.store import ResultStore
from genai_harness.runner import model_build
from genai_harness.runner.benchmark import run
from genai_harness.workloads.buildable import BUILD_MANIFEST


def test_the_exports_suite_on_the_tiny_model_records_exporter_and_census(tmp_path: Path) -> None:
    store = tmp_path / "exports.sqlite"
    proc = support.run_cli("run", "--suite", "exports", "--store", store, "--quiet", timeout=600)
    frame = ResultStore(store, create=False).read()
    assert proc.returncode == 0, frame[frame["status"] != "ok"][["framework", "status", "error"]].to_string()
    refused = frame[frame["status"] != "ok"]
    # the session's OpenVINO EP environment (onnxruntime-openvino 1.24.1) refuses the standard-op export, in its
    # words, and the run exits 0: a refusal is the matrix's finding
    assert set(refused["execution_provider"]) <= {"OpenVINOExecutionProvider"}
    assert all("OpenVINO does not support the following ONNX operations: Attention" in e for e in refused["error"])
    assert not len(refused) or "findings of the export matrix" in proc.stderr
    frame = frame[frame["execution_provider"] != "OpenVINOExecutionProvider"]
    rows = list(frame[frame["repetition"].notna()][["framework", "exporter", "exporter_version", "ops_standard",
                                                     "ops_contrib", "model_bytes", "status"]].itertuples(index=False))
    by_framework = {r[0]: r for r in rows}
    assert set(by_framework) == {"onnxruntime", "onnxruntime_genai", "openvino.genai"}
    genai, ov, plain = by_framework["onnxruntime_genai"], by_framework["openvino.genai"], by_framework["onnxruntime"]
    assert plain[1] == "torch.onnx (dynamo)" and plain[4] == 0 and plain[3] > 0  # the standard-op export
    assert genai[1] == "onnxruntime-genai" and genai[2].startswith("0.18") and genai[4] > 0  # contrib ops: GQA
    assert ov[1] == "optimum-intel" and ov[4] == 0 and ov[3] > 0
    assert all(r[5] > 100_000 and r[6] == "ok" for r in rows)
    shown = support.run_cli("results", "--store", store, "--coverage")
    assert shown.returncode == 0, shown.stderr
    assert "export matrix (export x runtime/EP)" in shown.stdout
    assert "tiny-llm [optimum-intel" in shown.stdout and "tiny-llm [torch.onnx (dynamo)" in shown.stdout
    assert "com.microsoft" in shown.stdout


def _extend_script(out_folder: Path) -> str:
    """A stand-in build tool: a finished build first; with --extend, one mobius export and one failed."""
    tiny = support.REPO / "src/genai_harness/workloads/models/tiny-llm/onnxruntime_genai"
    manifest = json.loads((out_folder / BUILD_MANIFEST).read_text())
    manifest["variants"]["float32-mobius-standard"] = {"onnxruntime_genai": {
        "folder": "float32-mobius-standard/onnxruntime_genai", "seconds": 12.5,
        "export": {"tool": "mobius (mobius-onnx)", "exporter": "mobius-onnx", "exporter_version": "0.1.0",
                   "profile": "onnx-standard"}}}
    manifest["variants"]["float32-mobius-openvino"] = {"onnxruntime_genai": {
        "failed": "exit 1: ValueError: RMSNormalization is not supported by this profile", "seconds": 3.0,
        "export": {"tool": "mobius (mobius-onnx)", "exporter": "mobius-onnx", "exporter_version": "0.1.0",
                   "profile": "openvino"}}}
    return (f'if [ "$5" = "--extend" ]; then\n  mkdir -p "$out/float32-mobius-standard"\n'
            f'  cp -r "{tiny}" "$out/float32-mobius-standard/onnxruntime_genai"\n'
            f"  cat > \"$out/{BUILD_MANIFEST}\" <<'EOF'\n{json.dumps(manifest)}\nEOF\n  exit 0\nfi\n")


@pytest.mark.usefixtures("room_for_stand_in_builds")
def test_a_failed_export_is_a_failed_row_in_its_own_words_beside_the_cells(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GENAI_HARNESS_BUILD_ENV", str(_fake_env(tmp_path, _finished_build(Path(), "smollm2-135m"))))
    said: list[str] = []
    first = model_build.build_model("smollm2-135m", _catalog(tmp_path), cache, said.append)
    assert "smollm2-135m-mobius" not in first.registered
    monkeypatch.setenv("GENAI_HARNESS_BUILD_ENV", str(_fake_env(tmp_path / "x", _extend_script(first.folder))))
    extended = model_build.build_model("smollm2-135m", _catalog(tmp_path), cache, said.append, exports=True)
    assert "smollm2-135m-mobius" in extended.registered and "smollm2-135m-mobius-ov" not in extended.registered
    assert any("smollm2-135m-mobius-ov (mobius-onnx openvino profile) not registered: its export failed: exit 1: "
               "ValueError: RMSNormalization" in line for line in said)
    frame = run("exports", models="smollm2-135m", frameworks="onnxruntime_genai", store=tmp_path / "s.sqlite",
                config=tmp_path / "genai-harness.toml", progress=False)
    failed = frame[frame["error_type"] == "ExportFailed"]
    assert len(failed) == 1 and failed.iloc[0]["model_id"] == "smollm2-135m-mobius-ov"
    assert failed.iloc[0]["error"].startswith("export failed: exit 1: ValueError: RMSNormalization")
    assert failed.iloc[0]["exporter"] == "mobius-onnx (openvino)"
    ran = frame[frame["status"] == "ok"]
    assert set(ran["model_id"]) == {"smollm2-135m", "smollm2-135m-int4", "smollm2-135m-mobius"}
    mobius = ran[ran["model_id"] == "smollm2-135m-mobius"]
    assert set(mobius["exporter"]) == {"mobius-onnx (onnx-standard)"} and set(mobius["export_s"]) == {12.5}
    assert set(ran[ran["model_id"] == "smollm2-135m"]["family"]) == {"smollm2-135m"}
