"""The worker boundary: requests, errors carried back by type, and children that die or hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genai_harness.errors import CellError, CellTimeoutError, WorkerProtocolError
from genai_harness.runner.environments import Environment
from genai_harness.runner.launcher import PACKAGE_ROOT, WORKER_MODULE, call_worker, describe_exit, worker_env
from genai_harness.worker import main as worker
from genai_harness.worker.protocol import PEAK_RSS_KEY, ErrorReply, InventoryReply, InventoryRequest

INVENTORY = InventoryRequest("default")


def fake_python(tmp_path: Path, body: str) -> Environment:
    """An 'interpreter' that is a shell script; it gets ``-m MODULE REQUEST RESPONSE`` as $1..$4."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return Environment("fake", script, "test")


def test_describe_exit():
    assert describe_exit(-11) == "killed by SIGSEGV"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(-200) == "killed by signal 200"


def test_a_real_worker_answers_an_unknown_op_with_a_worker_protocol_error(tmp_path):
    request, response = tmp_path / "request.json", tmp_path / "response.json"
    request.write_text(json.dumps({"op": "no-such-op"}))
    proc = subprocess.run([sys.executable, "-m", WORKER_MODULE, str(request), str(response)], env=worker_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(response.read_text())
    assert answer["error"]["type"] == "WorkerProtocolError"
    known = "inventory, cell, direct, operator_batch, cell_rounds"
    assert answer["error"]["message"] == f"unknown worker op 'no-such-op'; known: {known}"
    assert answer[PEAK_RSS_KEY] > 0


def test_handle_turns_unexpected_exceptions_into_harness_errors(monkeypatch):
    def explode(request):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(worker.HANDLERS, InventoryRequest.OP, explode)
    answer = worker.handle({"op": "inventory"})
    assert isinstance(answer, ErrorReply) and answer.error_type == "HarnessError"
    assert answer.message == "ZeroDivisionError: division by zero"
    assert "Traceback" in answer.traceback
    missing = worker.handle({})
    assert isinstance(missing, ErrorReply) and missing.error_type == "WorkerProtocolError"


def test_worker_main_usage():
    assert worker.main(["only-one-arg"]) == 2


def test_worker_env_makes_this_package_importable():
    env = worker_env()
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(PACKAGE_ROOT)
    assert (PACKAGE_ROOT / "genai_harness" / "__init__.py").exists()
    assert env["PYTHONUNBUFFERED"] == "1"


def test_child_that_exits_without_answering_is_a_cell_error(tmp_path):
    env = fake_python(tmp_path, "echo 'fatal: the runtime gave up' >&2\nexit 3")
    with pytest.raises(CellError, match=r"died: exit code 3 \(fatal: the runtime gave up\)") as info:
        call_worker(env, INVENTORY, timeout_s=30, what="probe")
    assert type(info.value) is CellError and "probe in environment 'fake'" in str(info.value)


def test_child_killed_by_a_signal_is_named(tmp_path):
    env = fake_python(tmp_path, "kill -SEGV $$")
    with pytest.raises(CellError, match="killed by SIGSEGV"):
        call_worker(env, INVENTORY, timeout_s=30)


def test_child_that_hangs_is_killed_at_the_timeout(tmp_path):
    pid_file = tmp_path / "pid"
    env = fake_python(tmp_path, f"echo $$ > {pid_file}\nsleep 60")
    start = time.monotonic()
    with pytest.raises(CellTimeoutError, match=r"ran past its 0\.5 s timeout"):
        call_worker(env, INVENTORY, timeout_s=0.5)
    assert time.monotonic() - start < 10
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the whole process group is gone, not left running


def test_unreadable_response_is_a_worker_protocol_error(tmp_path):
    env = fake_python(tmp_path, 'echo "{not json" > "$4"')
    with pytest.raises(WorkerProtocolError, match="unreadable response"):
        call_worker(env, INVENTORY, timeout_s=30)
    env = fake_python(tmp_path, 'echo "[1, 2]" > "$4"')
    with pytest.raises(WorkerProtocolError, match="not a JSON object"):
        call_worker(env, INVENTORY, timeout_s=30)


def test_error_reported_on_purpose_keeps_its_type(tmp_path):
    body = 'echo \'{"error": {"type": "CellTimeoutError", "message": "inner cell timed out"}}\' > "$4"'
    with pytest.raises(CellTimeoutError, match="inner cell timed out"):
        call_worker(fake_python(tmp_path, body), INVENTORY, timeout_s=30)


def test_a_reply_of_the_wrong_shape_is_a_worker_protocol_error(tmp_path):
    body = 'echo \'{"environment": "default"}\' > "$4"'  # an inventory reply without backends or devices
    with pytest.raises(WorkerProtocolError, match="InventoryReply lacks the field 'backends'"):
        call_worker(fake_python(tmp_path, body), INVENTORY, timeout_s=30)


def test_successful_answer_comes_back_with_os_accounting(tmp_path):
    sent = tmp_path / "sent.json"
    reply = InventoryReply("default", "/usr/bin/python3", "3.11.7", [], [])
    body = f'cat "$3" > {sent}\necho \'{json.dumps(reply.to_dict())}\' > "$4"'
    outcome = call_worker(fake_python(tmp_path, body), INVENTORY, timeout_s=30)
    assert outcome.reply == reply
    request = json.loads(sent.read_text())
    specs = request.pop("backend_specs")  # every request carries this process's backends
    assert request == {"op": "inventory", "environment": "default"}
    assert {spec["framework"] for spec in specs} >= {"onnxruntime", "onnxruntime_genai", "openvino.genai"}
    assert outcome.returncode == 0 and outcome.wall_s > 0 and outcome.peak_rss_mb > 0


def test_the_workers_own_peak_replaces_the_wait4_figure(tmp_path):
    reply = InventoryReply("default", "python", "3.11.7", [], [])
    body = f'echo \'{json.dumps({**reply.to_dict(), PEAK_RSS_KEY: 12.5})}\' > "$4"'
    outcome = call_worker(fake_python(tmp_path, body), INVENTORY, timeout_s=30)
    assert outcome.peak_rss_mb == 12.5 and outcome.reply.peak_rss_mb == 12.5


def test_missing_interpreter_is_a_cell_error(tmp_path):
    env = Environment("gone", tmp_path / "no-python", "test")
    with pytest.raises(CellError, match="cannot start"):
        call_worker(env, INVENTORY, timeout_s=30)
