"""A model that a runtime refuses at load for operators it lacks is a finding about that target, not a fault of the
run: the cell is recorded as failed in the runtime's own words and ``run`` exits 0, saying so (``make demo``'s
default suite meets one: onnxruntime-openvino 1.24.1 lacks opset-23 ``Attention``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import support

from genai_harness.backends.base import refuses_operators
from genai_harness.results.store import ResultStore


@pytest.mark.parametrize("message, refused", [
    ("FrontEnd API failed with GeneralFailure: OpenVINO does not support the following ONNX operations: Attention",
     True),
    ("[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation for Attention(23) node", True),
    ("[ONNXRuntimeError] : 3 : NO_SUCHFILE : Load model from m.onnx failed. File doesn't exist", False),
    ("Protobuf parsing failed.", False),
])
def test_a_refusal_for_missing_operators_is_told_from_a_broken_model(message: str, refused: bool) -> None:
    assert refuses_operators(message) is refused


def test_a_refused_cell_is_recorded_and_the_run_exits_0_saying_so(ovep_listing: dict, tmp_path: Path) -> None:
    store = tmp_path / "r.sqlite"
    workload = tmp_path / "text-p16-g4.toml"
    workload.write_text('id = "text-p16-g4"\nversion = 1\ntask = "text2text"\n[input]\nprompt_tokens = 16\n'
                        'new_tokens = 4\n[run]\nwarmup = 0\nrepetitions = 1\n')
    proc = support.run_cli("run", "--suite", workload, "--model", "tiny-llm", "--framework", "onnxruntime",
                           "--store", store, "--quiet", timeout=600)
    frame = ResultStore(store, create=False).read()
    refused = frame[frame["error_type"] == "OperatorsNotSupportedError"]
    if refused.empty:  # an OpenVINO EP that takes opset-23 Attention: nothing refused, nothing to excuse
        assert proc.returncode == 0 and set(frame["status"]) == {"ok"}, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert set(refused["status"]) == {"failed"} and set(refused["execution_provider"]) == {"OpenVINOExecutionProvider"}
    assert all("does not support the following ONNX operations" in e for e in refused["error"])
    assert "refused by their runtime for operators it does not implement" in proc.stderr
    others = frame[frame["error_type"].fillna("") != "OperatorsNotSupportedError"]
    assert len(others) and set(others["status"]) == {"ok"}, frame[["device", "status", "error"]].to_string()
