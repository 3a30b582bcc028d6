"""onnxruntime's node placement, read from its verbose session log: the parser over a log as the runtime writes it,
and real sessions of the bundled builder export on the CPU EP (everything there) and, where its environment exists,
the OpenVINO EP (GroupQueryAttention falls back to the CPU EP)."""

from __future__ import annotations

import json
from pathlib import Path

import support

from genai_harness.backends.ort_placement import CPU_EP, ep_placement_columns, parse_placement, probe_placement
from genai_harness.results.store import ResultStore
from genai_harness.workloads.catalog import MODELS_DIR

MODEL = MODELS_DIR / "tiny-llm" / "onnxruntime_genai" / "model.onnx"
_V = "2026-12-06 17:31:41.727 [V:onnxruntime:, session_state.cc:1313 VerifyEachNodeIsAssignedToAnEp] "
LOG = "\n".join([
    _V + " Node(s) placed on [OpenVINOExecutionProvider]. Number of nodes: 2",
    _V + "  OpenVINO-EP-subgraph_1 (OpenVINOExecutionProvider_OpenVINO-EP-subgraph_1_0)",
    _V + "  OpenVINO-EP-subgraph_2 (OpenVINOExecutionProvider_OpenVINO-EP-subgraph_2_1)",
    _V + " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3",
    _V + "  GroupQueryAttention (/a)",
    _V + "  GroupQueryAttention (/b)",
    _V + "  Shape (/c)",
    "2026-12-06 17:31:41.728 [V:onnxruntime:, session_state.cc:175 CreateGraphInfo] SaveMLValueNameIndexMapping",
])


def test_the_parser_reads_nodes_per_ep_and_what_fell_back() -> None:
    placement = parse_placement(LOG)
    assert placement.nodes == {"OpenVINOExecutionProvider": 2, CPU_EP: 3}
    assert placement.cpu_ops == {"GroupQueryAttention": 2, "Shape": 1}
    assert placement.share(30, "OpenVINOExecutionProvider") == 0.9
    assert placement.fallback("OpenVINOExecutionProvider") == f"3 node(s) on {CPU_EP}: GroupQueryAttention x2, Shape x1"
    assert parse_placement("no placement here").share(30, "OpenVINOExecutionProvider") is None


def test_a_real_cpu_session_places_every_node_on_the_cpu_ep() -> None:
    placement = probe_placement(MODEL, [CPU_EP])
    assert set(placement.nodes) == {CPU_EP} and placement.nodes[CPU_EP] > 10
    assert placement.share(None, CPU_EP) == 1.0 and placement.fallback(CPU_EP) is None


def test_the_openvino_ep_leaves_group_query_attention_on_the_cpu_ep() -> None:
    python = support.require_ovep_python()
    code = ("import json; from genai_harness.backends.ort_placement import probe_placement as p; "
            f"r = p({str(MODEL)!r}, ['OpenVINOExecutionProvider'], [{{'device_type': 'CPU'}}]); "
            "print(json.dumps([r.nodes, r.cpu_ops]))")
    # the OpenVINO EP's venv holds only its runtime: the harness reaches it through PYTHONPATH, as its workers do
    proc = support.run_python(code, python=python, env=support.clean_env(PYTHONPATH=str(support.REPO / "src")))
    assert proc.returncode == 0, proc.stderr[-1500:]
    nodes, cpu_ops = json.loads(proc.stdout.strip().splitlines()[-1])
    assert nodes.get("OpenVINOExecutionProvider", 0) >= 1 and cpu_ops == {"GroupQueryAttention": 4}


def test_placement_columns_from_a_cells_numerics() -> None:
    details = {"ep_nodes": {"OpenVINOExecutionProvider": 7, CPU_EP: 4}, "ep_cpu_ops": {"GroupQueryAttention": 4}}
    columns = ep_placement_columns(details, 55, "OpenVINOExecutionProvider")
    assert abs(columns["ep_node_share"] - (1 - 4 / 55)) < 1e-12
    assert columns["ep_fallback"] == f"4 node(s) on {CPU_EP}: GroupQueryAttention x4"
    assert ep_placement_columns({}, 55, "OpenVINOExecutionProvider") == {"ep_node_share": None, "ep_fallback": None}
    assert ep_placement_columns(details, 55, CPU_EP)["ep_fallback"] is None


def test_a_plain_onnxruntime_cell_on_the_openvino_ep_records_what_fell_back(tmp_path: Path) -> None:
    support.require_ovep_python()
    config = tmp_path / "genai-harness.toml"
    config.write_text(support.SESSION_CONFIG.read_text())
    env = support.clean_env(GENAI_HARNESS_CONFIG=str(config))
    added = support.run_cli("models", "add", "tiny-builder", "--task", "text2text", "--format", "onnx_decoder",
                            "--path", MODEL.parent, env=env)
    assert added.returncode == 0, added.stderr
    store = tmp_path / "s.sqlite"
    proc = support.run_cli("run", "--suite", "exports", "--model", "tiny-builder", "--device", "CPU:OpenVINO",
                           "--store", store, "--quiet", env=env, timeout=600)
    frame = ResultStore(store, create=False).read()
    assert proc.returncode == 0, frame[["status", "error"]].to_string()
    assert set(frame["status"]) == {"ok"} and set(frame["execution_provider"]) == {"OpenVINOExecutionProvider"}
    assert set(frame["ep_fallback"]) == {f"4 node(s) on {CPU_EP}: GroupQueryAttention x4"}
    census_nodes = int(frame["ops_standard"].iloc[0] + frame["ops_contrib"].iloc[0])
    assert set(frame["ep_node_share"]) == {1 - 4 / census_nodes}
