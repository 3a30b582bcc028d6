"""The worker protocol: every request and reply goes to JSON and comes back equal; what is not the protocol is a
WorkerProtocolError that names the problem."""

from __future__ import annotations

import json
from typing import Any

import pytest

from genai_harness.errors import CellTimeoutError, HarnessError, WorkerProtocolError
from genai_harness.host.ep_libraries import settings_for_worker
from genai_harness.interface.devices import Device
from genai_harness.worker.protocol import (
    PEAK_RSS_KEY,
    REQUESTS,
    CellDone,
    CellReply,
    CellRequest,
    CellRoundsReply,
    CellRoundsRequest,
    CellStarted,
    DirectReply,
    DirectRequest,
    ErrorReply,
    InventoryReply,
    InventoryRequest,
    LoadReply,
    LoadRequest,
    ModelRef,
    OperatorBatchReply,
    OperatorBatchRequest,
    OperatorCellReply,
    OperatorCellRequest,
    RequestedNumerics,
    RoundCommand,
    RoundDone,
    StopCommand,
    WorkerReady,
    WorkerReply,
    command_from_line,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    journal_entry_from_dict,
    journal_line,
)
from genai_harness.workloads.spec import parse_workload

SPECS = [{"framework": "fake", "entry_point": "tests.fake:Backend"}]
DEVICE = Device("CPU", {"execution_provider": "CPUExecutionProvider", "label_suffix": "EP"}, framework="onnxruntime")
WORKLOAD = parse_workload({"id": "w", "version": 1, "task": "text2text",
                           "input": {"prompt_tokens": 8, "new_tokens": 4}, "run": {"repetitions": 2}}, "inline")
OPERATOR_CELL = OperatorCellRequest(id=3, runtime="onnxruntime", model="m.onnx", feeds="f.npz", output="o.npy",
                                    execution_provider="CPUExecutionProvider", provider_options={"a": "1"},
                                    device="CPU", dtype="float32", repetitions=5, warmup=1, max_time_s=2.0,
                                    min_repetitions=3)

REQUEST_CASES = [
    InventoryRequest("ort-openvino"),
    CellRequest("onnxruntime", DEVICE, WORKLOAD, ModelRef("/models/m", "tiny", "onnx"), "default",
                RequestedNumerics("f32", 2)),
    CellRequest("onnxruntime", DEVICE, WORKLOAD, ModelRef("/models/m", "tiny", "onnx"), measure="instructions"),
    DirectRequest("openvino.genai", "text2text", "CPU", "/models/m", {"prompt": "hi", "max_new_tokens": 3},
                  numerics=RequestedNumerics(threads=1)),
    OperatorBatchRequest("/tmp/journal.jsonl", [OPERATOR_CELL]),
    CellRequest("openvino.genai", DEVICE, WORKLOAD, ModelRef("/models/m"), cache_root="/c", cold=True,
                cold_start=False),
    LoadRequest("openvino.genai", "text2text", DEVICE, "/models/m", "default"),
    CellRoundsRequest(CellRequest("onnxruntime", DEVICE, WORKLOAD, ModelRef("/models/m", "tiny", "onnx")),
                      "/tmp/rounds.jsonl"),
]
REPLY_CASES = [
    InventoryReply("default", "/usr/bin/python3", "3.11.7", [{"framework": "onnxruntime", "available": True}],
                   [DEVICE], peak_rss_mb=81.5),
    CellReply(0.25, [{"ttft_ms": 1.5, "native_metrics": {}}], "CPU", {"onnxruntime": "1.22"},
              {"precision": "f32", "threads": 2}, RequestedNumerics("default", None), "none: no counter", {},
              [1.0, 2.0], {"ref_token_agreement": 1.0}, peak_rss_mb=120.0),
    CellReply(0.25, [], peak_rss_mb=None),
    DirectReply(0.5, DEVICE, {"text": "hello", "token_ids": [1, 2], "metrics": {"e2e_ms": 3.0}}, "CPU",
                {"precision": "f32"}, RequestedNumerics("f32", None), peak_rss_mb=99.0),
    OperatorBatchReply(4, peak_rss_mb=50.0),
    CellReply(0.25, [], cold_start={"compile_s": 1.0, "load_cold_s": 1.2, "cache_hit": 1, "cache_note": None}),
    LoadReply(0.3, True, peak_rss_mb=70.0),
    LoadReply(0.3, None),
    CellRoundsReply(7, peak_rss_mb=60.0),
    ErrorReply("CellTimeoutError", "it hung", None, peak_rss_mb=10.0),
]


@pytest.mark.parametrize("request_", REQUEST_CASES, ids=lambda r: f"{r.OP}-{REQUEST_CASES.index(r)}")
def test_every_request_survives_the_request_file(request_: Any) -> None:
    data = json.loads(json.dumps(encode_request(request_, SPECS)))
    assert data["op"] == request_.OP and data["backend_specs"] == SPECS
    decoded, specs = decode_request(data)
    assert decoded == request_ and specs == SPECS
    assert isinstance(decoded, REQUESTS[request_.OP])


@pytest.mark.parametrize("reply", REPLY_CASES, ids=lambda r: type(r).__name__)
def test_every_reply_survives_the_response_file(reply: WorkerReply) -> None:
    data = json.loads(json.dumps(encode_reply(reply)))
    assert (PEAK_RSS_KEY in data) == (reply.peak_rss_mb is not None)
    kind = CellReply if isinstance(reply, ErrorReply) else type(reply)  # an error answers any request
    assert decode_reply(data, kind) == reply


def test_the_files_keep_their_keys() -> None:
    """What crosses the boundary is unchanged: the device and workload dicts, the cell's model, its numerics."""
    data = encode_request(REQUEST_CASES[1], [])
    assert data == {"op": "cell", "environment": "default", "framework": "onnxruntime", "device": DEVICE.to_dict(),
                    "workload": WORKLOAD.to_dict(), "model": {"id": "tiny", "format": "onnx", "path": "/models/m"},
                    "numerics": {"precision": "f32", "threads": 2}, "measure": "time", "cache_root": "",
                    "cold": False, "cold_start": True, "machine_speed": True, "backend_specs": [],
                    "ep_libraries": settings_for_worker()}  # the parent's plugin EP libraries
    direct = encode_reply(REPLY_CASES[3])
    assert list(direct)[:4] == ["load_s", "text", "token_ids", "metrics"]  # the task's output beside load_s
    assert direct["device"]["label"] == "CPU:EP" and direct[PEAK_RSS_KEY] == 99.0
    assert encode_reply(CellReply(1.0, [])).keys() >= {"load_s", "repetitions", "requested", "batch"}
    assert "reference" not in encode_reply(CellReply(1.0, []))  # only a cell that checked itself has one
    assert "cold_start" not in encode_reply(CellReply(1.0, []))  # only a cell whose target compiles has one


def test_a_direct_reply_keeps_its_own_fields_out_of_the_tasks_output() -> None:
    reply = DirectReply(0.5, DEVICE, {"load_s": 0.5, "text": "x"})
    assert reply.output == {"text": "x"}


def test_an_unknown_op_names_the_known_ones() -> None:
    with pytest.raises(WorkerProtocolError,
                       match=r"unknown worker op 'nope'; known: inventory, cell, direct, operator_batch, load"):
        decode_request({"op": "nope"})
    with pytest.raises(WorkerProtocolError, match="unknown worker op None"):
        decode_request({})
    with pytest.raises(WorkerProtocolError, match="not a JSON object"):
        decode_request([1, 2])


def test_a_malformed_request_is_a_worker_protocol_error() -> None:
    with pytest.raises(WorkerProtocolError, match="lacks the field 'workload'"):
        decode_request({"op": "cell", "framework": "onnxruntime", "device": DEVICE.to_dict()})
    with pytest.raises(WorkerProtocolError, match="backend_specs that are not a list"):
        decode_request({"op": "inventory", "backend_specs": "fake"})


@pytest.mark.parametrize(("data", "kind", "words"), [
    ({"repetitions": []}, CellReply, "CellReply lacks the field 'load_s'"),
    ({"load_s": "soon", "repetitions": []}, CellReply, "CellReply is malformed"),
    ({"load_s": 1.0, "repetitions": 3}, CellReply, "CellReply is malformed"),
    ({"load_s": 1.0, "output": {}}, DirectReply, "DirectReply lacks the field 'device'"),
    ({"backends": [], "devices": [{"no": "identifier"}]}, InventoryReply, "InventoryReply is malformed"),
    ({"error": "a string, not an object"}, CellReply, "error is not a JSON object"),
    ([1, 2], CellReply, "not a JSON object"),
])
def test_a_malformed_reply_is_a_worker_protocol_error(data: Any, kind: type, words: str) -> None:
    with pytest.raises(WorkerProtocolError, match=words):
        decode_reply(data, kind)


def test_an_error_reply_is_raised_as_its_own_type() -> None:
    reply = decode_reply({"error": {"type": "CellTimeoutError", "message": "slow"}, PEAK_RSS_KEY: 3}, CellReply)
    assert isinstance(reply, ErrorReply) and reply.peak_rss_mb == 3.0
    error = reply.to_exception()
    assert type(error) is CellTimeoutError and str(error) == "slow"
    unknown = decode_reply({"error": {"message": "odd"}}, CellReply)
    assert type(unknown.to_exception()) is HarnessError


def test_an_error_reply_of_an_exception() -> None:
    assert ErrorReply.of(CellTimeoutError("slow")) == ErrorReply("CellTimeoutError", "slow")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as exc:
        reply = ErrorReply.of(exc)
    assert (reply.error_type, reply.message) == ("HarnessError", "ZeroDivisionError: division by zero")
    assert "Traceback" in (reply.traceback or "")


def test_the_operator_journal_round_trips() -> None:
    ok = OperatorCellReply(0.1, [1.0, 2.0], 64.0, "CPUExecutionProvider", "f32", "1.22.0")
    entries = [CellStarted(3), CellDone(3, reply=ok), CellDone(4, refused="no kernel for Foo"),
               CellDone(5, error="ValueError: bad", error_type="ValueError")]
    for entry in entries:
        assert journal_entry_from_dict(json.loads(json.dumps(entry.to_dict()))) == entry
    assert CellStarted(3).to_dict() == {"start": 3}
    assert CellDone(4, refused="no").to_dict() == {"done": 4, "refused": "no"}
    with pytest.raises(WorkerProtocolError, match="lacks the field 'response'"):
        journal_entry_from_dict({"done": 6})


def test_a_rounds_worker_speaks_in_typed_lines() -> None:
    """The commands on a rounds worker's standard input and the lines of its journal come back as themselves."""
    assert command_from_line(RoundCommand(12).to_line()) == RoundCommand(12)
    assert command_from_line(StopCommand().to_line()) == StopCommand() == command_from_line("")  # end of input
    reply = CellReply(0.25, [{"ttft_ms": 1.5, "native_metrics": {}}], "CPU", peak_rss_mb=88.0)
    for entry in (WorkerReady(0.3), RoundDone(3, reply=reply), RoundDone(4, error="RuntimeError: boom",
                                                                         error_type="RuntimeError")):
        assert journal_line(json.loads(json.dumps(entry.to_dict()))) == entry
    assert journal_line({"round": 3, "reply": reply.to_dict()}).reply.peak_rss_mb is None  # type: ignore[union-attr]
    for bad, words in (("{oops\n", "unreadable command"), ('{"go": 1}\n', "lacks the field 'round'"),
                       ("[1]\n", "not a JSON object")):
        with pytest.raises(WorkerProtocolError, match=words):
            command_from_line(bad)
    with pytest.raises(WorkerProtocolError, match="journal line"):
        journal_line({"round": "three"})

