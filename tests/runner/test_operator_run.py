"""`genai-harness run` with an operator suite: real runtimes, real worker processes, a real store.

A small operator suite file runs through the normal runner; its rows and the coverage matrix are checked.
Bad specs are refused by field before any cell runs. A worker killed inside a cell costs that cell only.
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pandas as pd
import pytest
from support import assert_one_error_line, run_cli

from genai_harness.results.store import ResultStore
from genai_harness.worker.protocol import OperatorCellRequest

SMALL = """
id = "ops-small"
[defaults]
q_heads = 4
kv_heads = 2
head_size = 16
q_len = 8
kv_len = 16
repetitions = 3
warmup = 0
"""


def _suite(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "ops.toml"
    path.write_text(SMALL + body)
    return path


def test_an_operator_suite_runs_through_the_runner_and_the_coverage_matrix_reads_it(tmp_path: Path) -> None:
    suite = _suite(tmp_path, """
[[operators]]
operator = "Attention"
variant = "alibi"
[[operators]]
operator = "FlexAttention"
[[operators]]
operator = "GroupQueryAttention"
variant = "sliding_window"
window = 4
[[operators]]
operator = "GroupQueryAttention"
packed_qkv = true
q_len = 16
dtype = "float16"
[[operators]]
operator = "FlexAttentionExpanded"
variant = "score_mod"
score_mod = ["div 5", "tanh", "mul 5"]
""")
    store = tmp_path / "ops.sqlite"
    proc = run_cli("run", "--suite", suite, "--store", store, "--framework", "onnxruntime",
                   "--framework", "openvino.genai", timeout=300)
    # a runtime refusing an operator is a finding, not a failed run
    assert proc.returncode == 0, proc.stderr
    assert "[1/" in proc.stderr and "GroupQueryAttention" in proc.stderr  # progress lines as for other suites
    rows = ResultStore(store).read()
    assert set(rows["task"]) == {"operator"}
    ort = rows[(rows["runtime"] == "onnxruntime") & (rows["environment"] == "default")]
    ok = ort[ort["status"] == "ok"]
    assert set(ok["workload_id"].str.split("-").str[0]) == {"Attention24", "GroupQueryAttention",
                                                          "FlexAttentionExpanded"}
    assert (ok.groupby("workload_id").size() == 3).all()  # one row per repetition
    assert (ok["ref_within_tolerance"] == 1).all(), ok[["workload_id", "ref_max_abs_error"]]
    assert (ok["ref_max_abs_error"] < 1e-2).all() and ok["ref_max_rel_error"].notna().all()
    assert (ok["inference_ms"] > 0).all() and (ok["gflops_per_s"] > 0).all()
    assert ((ok["peak_fraction"] > 0) & (ok["peak_fraction"] < 10)).all()
    assert set(ok["precision"]) <= {"f32", "f16"} and ok["load_s"].notna().all()
    flex = ort[ort["workload_id"].str.startswith("FlexAttention-")]
    assert list(flex["status"]) == ["failed"] and "not a registered function/op" in flex["error"].iloc[0]
    ov = rows[rows["runtime"] == "openvino"]
    assert set(ov["framework"]) == {"openvino.genai"} and len(ov)
    ov_flex = ov[ov["workload_id"].str.startswith("FlexAttention-")].iloc[0]
    assert ov_flex["status"] == "failed" and "FlexAttention" in ov_flex["error"]  # OpenVINO's own words
    cov = run_cli("results", "--store", store, "--coverage")
    assert cov.returncode == 0, cov.stderr
    line = next(ln for ln in cov.stdout.splitlines() if ln.startswith("FlexAttention-causal"))
    assert line.count("not supported") >= 2, cov.stdout
    assert "openvino/CPU@default" in cov.stdout and "onnxruntime/CPUExecutionProvider@default" in cov.stdout
    gqa = next(ln for ln in cov.stdout.splitlines() if ln.startswith("GroupQueryAttention-sliding"))
    assert " ok" in gqa, cov.stdout
    # the same matrix in the report, with the counts per runtime/EP
    report = run_cli("report", "--store", store, "--out", tmp_path / "report")
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Operator coverage (5 operator variants on" in page
    assert '<td class="unsupported">not supported</td>' in page and '<td class="ok">ok</td>' in page
    assert "openvino/CPU@default" in page


@pytest.mark.parametrize(("body", "named"), [
    ('[[operators]]\noperator = "Attention"\nq_heads = 6\nkv_heads = 4\n', "'q_heads'/'kv_heads'"),
    ('[[operators]]\noperator = "Atention"\n', "'operator'"),
    ('[[operators]]\noperator = "Attention"\ndomain = "com.microsoft"\n', "'domain'"),
    ('[[operators]]\noperator = "Attention"\nq_len = "8"\n', "'q_len'"),
    ('[[operators]]\noperator = "Attention"\nheads = 8\n', "'heads'"),
    ('[[operators]]\noperator = "FlexAttention"\nvariant = "score_mod"\nscore_mod = ["cube"]\n', "'score_mod'"),
    ('[[operators]]\noperator = "Attention"\nvariant = "score_mod"\nscore_mod = ["tanh"]\n', "'score_mod'"),
    ('[[operators]]\noperator = "FlexAttention"\nvariant = "score_mod"\nscore_mod = "missing.onnx"\n',
     "'score_mod'"),
])
def test_a_bad_operator_spec_is_refused_by_field_before_any_cell(tmp_path: Path, body: str, named: str) -> None:
    store = tmp_path / "ops.sqlite"
    line = assert_one_error_line(run_cli("run", "--suite", _suite(tmp_path, body), "--store", store))
    assert named in line and "[[operators]] #1" in line
    assert not store.exists() or ResultStore(store).read().empty


def test_a_score_mod_graph_that_does_not_type_check_is_refused_by_field(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Cast", ["s"], ["o"], to=TensorProto.INT64)], "bad",
                              [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("o", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(graph), tmp_path / "cast.onnx")
    body = '[[operators]]\noperator = "FlexAttention"\nvariant = "score_mod"\nscore_mod = "cast.onnx"\n'
    line = assert_one_error_line(run_cli("run", "--suite", _suite(tmp_path, body), "--store", tmp_path / "s.sqlite"))
    assert re.search(r"'score_mod' \(cast-[0-9a-f]{8}\)", line) and "type-check" in line


def test_a_score_mod_whose_if_branch_reads_the_scores_runs_through_the_runner(tmp_path: Path) -> None:
    """Issue 24: it type-checked, then the expanded model failed onnx's checker (exit 70). Now it runs and matches."""
    from support.operators import if_score_mod

    if_score_mod(tmp_path / "if_mod.onnx")
    body = '[[operators]]\noperator = "FlexAttentionExpanded"\nvariant = "score_mod"\nscore_mod = "if_mod.onnx"\n'
    store = tmp_path / "s.sqlite"
    proc = run_cli("run", "--suite", _suite(tmp_path, body), "--store", store, "--framework", "onnxruntime",
                   "--device", "CPU")
    assert proc.returncode == 0, proc.stderr
    rows = ResultStore(store).read()
    assert set(rows["status"]) == {"ok"} and (rows["ref_within_tolerance"] == 1).all(), rows[["status", "error"]]
    assert rows["workload_id"].str.contains(r"score_mod\.if_mod-[0-9a-f]{8}-", regex=True).all()


def test_a_user_score_mod_matches_the_reference_on_a_real_runtime() -> None:
    import onnxruntime as ort

    from genai_harness.workloads.operators.build import agreement, build_model, make_inputs, reference_output
    from genai_harness.workloads.operators.score_mod import from_expression
    from genai_harness.workloads.operators.spec import OperatorSpec

    capped = OperatorSpec("FlexAttentionExpanded", variant="score_mod", score_mod=from_expression(
        ["div 2", "tanh", "mul 2"]), q_heads=4, kv_heads=2, head_size=16, q_len=8, kv_len=16)
    feeds = make_inputs(capped)
    want = reference_output(capped, feeds)  # FlexAttention itself, run by onnx's ReferenceEvaluator
    got = ort.InferenceSession(build_model(capped).SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, feeds)[0]
    assert agreement(capped, got, want)[2]
    plain = OperatorSpec("FlexAttentionExpanded", variant="plain", q_heads=4, kv_heads=2, head_size=16, q_len=8,
                         kv_len=16)
    assert not agreement(capped, reference_output(plain, make_inputs(plain)), want)[2]  # the mod changes the answer


def _requests(tmp_path: Path, reps: list[int]) -> list[OperatorCellRequest]:
    import numpy as np
    import onnx

    from genai_harness.workloads.operators.build import build_model, make_inputs
    from genai_harness.workloads.operators.spec import OperatorSpec

    spec = OperatorSpec("Attention", q_heads=4, kv_heads=2, head_size=16, q_len=8, kv_len=16)
    onnx.save(build_model(spec), tmp_path / "m.onnx")
    np.savez(tmp_path / "f.npz", **make_inputs(spec))
    return [OperatorCellRequest(id=i, runtime="onnxruntime", model=str(tmp_path / "m.onnx"),
                                feeds=str(tmp_path / "f.npz"), output=str(tmp_path / f"o{i}.npy"),
                                execution_provider="CPUExecutionProvider", provider_options={}, device="CPU",
                                dtype="float32", repetitions=n, warmup=0, max_time_s=600.0, min_repetitions=n)
            for i, n in enumerate(reps)]


def _kill_worker_of(folder: Path) -> None:
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in proc.info["cmdline"] or []):
            os.kill(proc.pid, signal.SIGKILL)


def test_a_worker_killed_in_a_cell_costs_that_cell_and_a_fresh_worker_runs_the_rest(tmp_path: Path) -> None:
    import sys

    from genai_harness.runner.operator_loop import run_batches

    requests = _requests(tmp_path, [2, 1_000_000, 2])  # the middle cell would run for minutes
    work = tmp_path / "work"
    work.mkdir()

    def on_start(index: int) -> None:
        if index == 1:
            _kill_worker_of(work)

    ends = list(run_batches(requests, Path(sys.executable), work, timeout_s=120, on_start=on_start))
    assert [(e.index, e.status) for e in ends] == [(0, "ok"), (1, "crashed"), (2, "ok")]
    assert "killed by SIGKILL" in ends[1].error
    assert ends[2].reply is not None and len(ends[2].reply.times_ms) == 2
    journals = sorted(work.glob("journal-*.jsonl"))
    assert len(journals) == 2  # a second worker took the cells left
    assert json.loads(journals[1].read_text().splitlines()[0]) == {"start": 2}


def test_a_cell_past_its_timeout_is_killed_and_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    import sys

    from genai_harness.runner.operator_loop import run_batches

    requests = _requests(tmp_path, [1_000_000, 2])
    work = tmp_path / "work"
    work.mkdir()
    ends = list(run_batches(requests, Path(sys.executable), work, timeout_s=3))
    assert [(e.index, e.status) for e in ends] == [(0, "timeout"), (1, "ok")]
    assert "3 s timeout" in ends[0].error


def test_a_store_row_of_an_operator_cell_keeps_its_repetition_statistics(tmp_path: Path) -> None:
    """The summary statistics other cells get (median, percentiles) come from the operator rows too."""
    from genai_harness.analysis.long_view import cell_statistics

    suite = _suite(tmp_path, '[[operators]]\noperator = "MatMulSoftmaxMatMul"\n')
    store = tmp_path / "s.sqlite"
    proc = run_cli("run", "--suite", suite, "--store", store, "--framework", "onnxruntime", "--device", "CPU")
    assert proc.returncode == 0, proc.stderr
    stats = cell_statistics(ResultStore(store).read(), ["inference_ms", "gflops_per_s"])
    assert isinstance(stats, pd.DataFrame) and (stats["n"] == 3).all() and (stats["median"] > 0).all()


def test_sigterm_records_the_operator_cell_in_flight_as_interrupted_and_leaves_no_worker(tmp_path: Path) -> None:
    import subprocess
    import time

    import psutil
    from support import REPO, cli_command, isolated_env

    suite = tmp_path / "slow.toml"
    suite.write_text('[[operators]]\noperator = "Attention"\nq_len = 512\nkv_len = 512\nrepetitions = 1000\n'
                     'max_time_s = 600\n')
    store = tmp_path / "s.sqlite"
    proc = subprocess.Popen([*cli_command(), "run", "--suite", str(suite), "--store", str(store), "--framework",
                             "onnxruntime", "--device", "CPU"], cwd=REPO, env=isolated_env(REPO, None),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300  # the run's start (inventory, plan) takes minutes at load 20
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and not workers:  # wait until a worker runs the cell
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if "genai-harness-ops-" in " ".join(_cmdline(c))]  # an operator batch, not the inventory
        time.sleep(0.2)
    assert workers, "no worker started"
    time.sleep(3)  # inside the cell (1000 repetitions of a 512x512 prefill)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM or proc.returncode == -signal.SIGTERM, err
    rows = ResultStore(store).read()
    assert list(rows["status"]) == ["interrupted"] and "SIGTERM" in rows["error"].iloc[0]
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def _cmdline(process) -> list[str]:
    import psutil

    try:
        return process.cmdline()
    except psutil.Error:  # it ended between the listing and the look
        return []
