"""An operator cell on a plugin target: its library is registered in the worker and the session is given the
plugin's OrtEpDevice; a library that cannot be registered is the cell's refusal in onnxruntime's words."""

from __future__ import annotations

import pytest

from genai_harness.worker import protocol
from genai_harness.worker.operator_batch import OperatorRefused, _onnxruntime


def test_a_plugin_operator_cell_whose_library_fails_is_refused_in_the_runtimes_words(tmp_path) -> None:
    library = {"name": "acme-operator-test", "path": str(tmp_path / "text.so"), "source": "config"}
    (tmp_path / "text.so").write_text("not a shared library, only some text standing in for one\n" * 4)
    cell = protocol.OperatorCellRequest(
        id=1, runtime="onnxruntime", model=str(tmp_path / "m.onnx"), feeds="", output="",
        execution_provider="AcmeExecutionProvider", provider_options={}, device="NPU", dtype="float32",
        repetitions=1, warmup=0, ep_library=library,
        ep_device={"ep_name": "AcmeExecutionProvider", "type": "NPU", "vendor_id": 1, "device_id": 2})
    with pytest.raises(OperatorRefused) as info:
        _onnxruntime(cell)
    message = str(info.value)
    assert "acme-operator-test" in message and "cannot register it" in message and "invalid ELF header" in message


def test_the_plugin_fields_cross_the_process_boundary() -> None:
    cell = protocol.OperatorCellRequest(
        id=1, runtime="onnxruntime", model="m", feeds="f", output="o", execution_provider="E", provider_options={},
        device="NPU", dtype="float32", repetitions=1, warmup=0, ep_library={"name": "x", "path": "/x.so"},
        ep_device={"ep_name": "E", "type": "NPU", "vendor_id": 1, "device_id": 2})
    assert protocol.OperatorCellRequest.from_dict(cell.to_dict()) == cell
    plain = protocol.OperatorCellRequest.from_dict({k: v for k, v in cell.to_dict().items()
                                                    if k not in ("ep_library", "ep_device")})
    assert plain.ep_library is None and plain.ep_device is None  # a request from an older parent
