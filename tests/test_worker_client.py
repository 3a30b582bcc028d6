"""The worker boundary: requests, errors carried back by type, and children that die or hang."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from genai_harness.errors import CellError, CellTimeoutError, WorkerProtocolError
from genai_harness.runner.environments import Environment, default_environment
from genai_harness.runner.launcher import PACKAGE_ROOT, call_worker, describe_exit, worker_env
from genai_harness.worker import main as worker


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


def test_unknown_op_is_reraised_in_the_parent_as_worker_protocol_error():
    with pytest.raises(WorkerProtocolError, match="unknown worker op 'no-such-op'; known: inventory"):
        call_worker(default_environment(), {"op": "no-such-op"}, timeout_s=120)


def test_handle_turns_unexpected_exceptions_into_harness_errors(monkeypatch):
    def explode(request):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(worker.HANDLERS, "explode", explode)
    answer = worker.handle({"op": "explode"})
    assert answer["error"]["type"] == "HarnessError"
    assert answer["error"]["message"] == "ZeroDivisionError: division by zero"
    assert "Traceback" in answer["error"]["traceback"]
    assert worker.handle({})["error"]["type"] == "WorkerProtocolError"


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
        call_worker(env, {"op": "inventory"}, timeout_s=30, what="probe")
    assert type(info.value) is CellError and "probe in environment 'fake'" in str(info.value)


def test_child_killed_by_a_signal_is_named(tmp_path):
    env = fake_python(tmp_path, "kill -SEGV $$")
    with pytest.raises(CellError, match="killed by SIGSEGV"):
        call_worker(env, {"op": "inventory"}, timeout_s=30)


def test_child_that_hangs_is_killed_at_the_timeout(tmp_path):
    pid_file = tmp_path / "pid"
    env = fake_python(tmp_path, f"echo $$ > {pid_file}\nsleep 60")
    start = time.monotonic()
    with pytest.raises(CellTimeoutError, match=r"ran past its 0\.5 s timeout"):
        call_worker(env, {"op": "inventory"}, timeout_s=0.5)
    assert time.monotonic() - start < 10
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the whole process group is gone, not left running


def test_unreadable_response_is_a_worker_protocol_error(tmp_path):
    env = fake_python(tmp_path, 'echo "{not json" > "$4"')
    with pytest.raises(WorkerProtocolError, match="unreadable response"):
        call_worker(env, {"op": "inventory"}, timeout_s=30)
    env = fake_python(tmp_path, 'echo "[1, 2]" > "$4"')
    with pytest.raises(WorkerProtocolError, match="not a JSON object"):
        call_worker(env, {"op": "inventory"}, timeout_s=30)


def test_error_reported_on_purpose_keeps_its_type(tmp_path):
    body = 'echo \'{"error": {"type": "CellTimeoutError", "message": "inner cell timed out"}}\' > "$4"'
    with pytest.raises(CellTimeoutError, match="inner cell timed out"):
        call_worker(fake_python(tmp_path, body), {"op": "cell"}, timeout_s=30)


def test_successful_answer_comes_back_with_os_accounting(tmp_path):
    body = 'cat "$3" > "$4"'  # echo the request back
    outcome = call_worker(fake_python(tmp_path, body), {"op": "echo", "value": [1, 2]}, timeout_s=30)
    specs = outcome.response.pop("backend_specs")  # every request carries this process's backends
    assert outcome.response == {"op": "echo", "value": [1, 2]}
    assert {spec["framework"] for spec in specs} >= {"onnxruntime", "onnxruntime_genai", "openvino.genai"}
    assert outcome.returncode == 0 and outcome.wall_s > 0 and outcome.peak_rss_mb > 0


def test_missing_interpreter_is_a_cell_error(tmp_path):
    env = Environment("gone", tmp_path / "no-python", "test")
    with pytest.raises(CellError, match="cannot start"):
        call_worker(env, {"op": "inventory"}, timeout_s=30)
