"""Operator spec bounds: every field bounded and named, the runner's allocation planned (and refused over budget)
before anything is allocated, score_mod files capped, workload ids that keep distinct specs distinct."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from support import assert_one_error_line, run_cli, run_python

from genai_harness.errors import EXIT_CODES, WorkloadError
from genai_harness.results.store import ResultStore
from genai_harness.workloads.operators import bounds
from genai_harness.workloads.operators.score_mod import MAX_FILE_BYTES, MAX_NODES, from_expression, from_file
from genai_harness.workloads.operators.spec import OperatorSpec, validate_spec
from genai_harness.workloads.operators.suites import load_operator_suite

SMALL = {"q_heads": 4, "kv_heads": 2, "head_size": 16, "q_len": 8, "kv_len": 16}


@pytest.mark.parametrize(("fields", "named"), [
    ({"operator": "GroupQueryAttention", "variant": "sliding_window", "window": 99999999999999999999}, "'window'"),
    ({"operator": "Attention", "q_heads": 100000, "kv_heads": 100000}, "'q_heads'"),
    ({"operator": "Attention", "q_len": 10**9, "kv_len": 10**9}, "'q_len'"),
    ({"operator": "Attention", "kv_len": 2**21}, "'kv_len'"),
    ({"operator": "Attention", "head_size": 4096}, "'head_size'"),
    ({"operator": "Attention", "batch": 0}, "'batch'"),
    ({"operator": "Attention", "batch": True}, "'batch'"),
    ({"operator": "Attention", "documents": -1}, "'documents'"),
    ({"operator": "Attention", "variant": "softcap", "softcap": float("nan")}, "'softcap'"),
    ({"operator": "Attention", "variant": "softcap", "softcap": float("inf")}, "'softcap'"),
    ({"operator": "Attention", "variant": "softcap", "softcap": 1e-300}, "'softcap'"),
    ({"operator": "Attention", "variant": "causal", "softcap": float("nan")}, "'softcap'"),
    ({"operator": "Attention", "softcap": 1e6}, "'softcap'"),
    ({"operator": "Attention", "opset": True}, "'opset'"),
    ({"operator": "Attention", "repetitions": 10**5000}, "'repetitions'"),
])
def test_each_field_out_of_bounds_is_refused_by_name_in_one_line(fields: dict, named: str) -> None:
    with pytest.raises(WorkloadError) as caught:
        validate_spec(OperatorSpec(**fields))
    message = str(caught.value)
    assert named in message and "\n" not in message and len(message) < 400, message


def test_a_spec_over_the_memory_budget_names_the_fields_that_size_it() -> None:
    # every field within its own bound; together a mask of terabytes (the model could not even hold it)
    spec = OperatorSpec("Attention", q_heads=128, kv_heads=8, q_len=2**20, kv_len=2**20, head_size=128)
    assert sum(bounds.planned_bytes(spec).values()) > 100 * bounds.memory_budget_bytes()
    with pytest.raises(WorkloadError, match=r"fields 'q_heads', 'q_len', 'kv_len': the model's mask/bias constant "
                                            r"would be [\d.]+ GiB, over the 2 GiB an ONNX model"):
        validate_spec(spec)
    # 2 GiB exactly: 32 heads of ALiBi at 4096 x 4096 in float32 (protobuf refuses it); float16 is built
    alibi = OperatorSpec("Attention", variant="alibi", q_len=4096, kv_len=4096)
    with pytest.raises(WorkloadError, match=r"mask/bias constant would be 2.0 GiB, over the 2 GiB"):
        validate_spec(alibi)
    validate_spec(replace(alibi, dtype="float16"))
    # a long score_mod: each of its 500 nodes keeps one more score tensor of the reference's chunk
    long_mod = OperatorSpec("FlexAttention", variant="score_mod", score_mod=from_expression(["neg"] * 500),
                            q_len=4096, kv_len=4096)
    with pytest.raises(WorkloadError, match=r"fields 'batch', 'q_heads', 'q_len', 'kv_len': the runner would "
                                            r"allocate about [\d.]+ GiB .*reference [\d.]+ GiB.*budget"):
        validate_spec(long_mod)
    # a long decode: the inputs (the KV cache) are what is too large
    decode = OperatorSpec("Attention", q_heads=256, kv_heads=256, q_len=1, kv_len=2**20, head_size=1024, batch=256)
    with pytest.raises(WorkloadError, match="'head_size'"):
        validate_spec(decode)


def test_the_budget_is_the_smaller_of_the_documented_cap_and_a_share_of_this_machine() -> None:
    import psutil

    assert bounds.memory_budget_bytes() == int(min(bounds.MEMORY_BUDGET_BYTES,
                                                   bounds.MEMORY_SHARE * psutil.virtual_memory().total))


def test_a_suite_whose_specs_together_are_over_the_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [OperatorSpec("Attention", **{**SMALL, "q_len": n, "kv_len": n}) for n in (64, 128, 256)]
    one = max(sum(bounds.planned_bytes(s).values()) for s in specs)
    assert one < bounds.suite_bytes(specs)  # the drawn inputs it caches come on top of the largest spec
    monkeypatch.setattr(bounds, "memory_budget_bytes", lambda: one)
    with pytest.raises(WorkloadError, match=r"^S: its 3 operator specs together would keep about"):
        bounds.check_suite_memory(specs, "S")
    monkeypatch.setattr(bounds, "memory_budget_bytes", lambda: bounds.suite_bytes(specs))
    bounds.check_suite_memory(specs, "S")


def test_the_shipped_attention_suite_fits_its_budget() -> None:
    suite = load_operator_suite("attention")
    assert suite is not None and bounds.suite_bytes(suite[1]) < 2 * 2**30


MEASURE = """
import json, sys, tempfile
from dataclasses import replace
from pathlib import Path
import psutil
from genai_harness.runner.operator_loop import prepare_specs
from genai_harness.workloads.operators.bounds import planned_bytes
from genai_harness.workloads.operators.score_mod import from_expression
from genai_harness.workloads.operators.spec import OperatorSpec
kw = json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.loads(%r)
if "score_mod" in kw:
    kw["score_mod"] = from_expression(kw["score_mod"])
spec = OperatorSpec(**kw)
small = replace(spec, q_heads=2, kv_heads=2 if spec.operator == "MultiHeadAttention" else 1, q_len=4, kv_len=4,
                head_size=8, batch=1)
with tempfile.TemporaryDirectory() as folder:
    prepare_specs([small], Path(folder))  # imports and first-use costs are not the spec's
base = psutil.Process().memory_info().rss
with tempfile.TemporaryDirectory() as folder:
    prepare_specs([spec], Path(folder))
# VmHWM: this interpreter's own peak (ru_maxrss keeps the parent's across fork and exec: a large pytest parent's)
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"used": peak - base, "planned": sum(planned_bytes(spec).values())}))
"""


@pytest.mark.parametrize("fields", [
    {"operator": "Attention", "variant": "alibi", "q_heads": 16, "kv_heads": 4, "q_len": 768, "kv_len": 768},
    {"operator": "GroupQueryAttention", "q_heads": 16, "kv_heads": 4, "q_len": 1, "kv_len": 32768,
     "head_size": 128, "dtype": "float16"},
    {"operator": "FlexAttentionExpanded", "variant": "score_mod", "score_mod": ["div 30", "tanh", "mul 30", "neg"],
     "q_heads": 16, "kv_heads": 4, "q_len": 768, "kv_len": 768},
    {"operator": "MultiHeadAttention", "variant": "document", "q_heads": 8, "kv_heads": 8, "q_len": 512,
     "kv_len": 1024, "batch": 3},
])
def test_the_planned_allocation_bounds_what_the_runner_really_allocates(fields: dict) -> None:
    """The plan is checked against the peak resident memory of really building, drawing and referencing a spec
    (200-600 MiB each) in a fresh interpreter."""
    proc = run_python(MEASURE % json.dumps(fields), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    assert 0.25 * got["planned"] < got["used"] <= got["planned"], got  # an upper bound, and not a wild one


def test_the_issues_hostile_specs_are_refused_under_a_memory_limit_before_anything_is_allocated(tmp_path: Path) -> None:
    """Under a 2 GiB address-space limit the CLI still answers in one line, naming the field (exit 7), not
    MemoryError: nothing was allocated for the spec."""
    cases = {"q_heads": '[[operators]]\noperator = "Attention"\nq_heads = 100000\nkv_heads = 100000\n',
             "q_len": '[[operators]]\noperator = "Attention"\nq_len = 1e9\n',
             "'q_heads', 'q_len', 'kv_len'": '[[operators]]\noperator = "Attention"\nq_heads = 256\n'
                                                      'kv_heads = 8\nq_len = 1000000\nkv_len = 1000000\n',
             "window": '[[operators]]\noperator = "GroupQueryAttention"\nvariant = "sliding_window"\n'
                       'window = 99999999999999999999\n'}
    limit = "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
    for index, (named, body) in enumerate(cases.items()):
        suite = tmp_path / f"hostile{index}.toml"
        suite.write_text(body)
        code = (limit + f"sys.argv = ['genai-harness', 'run', '--suite', {str(suite)!r}, '--store', "
                f"{str(tmp_path / 's.sqlite')!r}]; from genai_harness.cli import main; sys.exit(main(sys.argv[1:]))")
        line = assert_one_error_line(run_python(code, timeout=120), EXIT_CODES["WorkloadError"])
        assert named in line and "MemoryError" not in line, line
    assert not (tmp_path / "s.sqlite").exists()


def test_variant_values_and_batch_are_in_the_workload_id() -> None:
    base = OperatorSpec("GroupQueryAttention", **SMALL)
    ids = {replace(base, variant="sliding_window", window=w).name for w in (4, 8)}
    ids |= {replace(base, variant="softcap", softcap=c).name for c in (50.0, 30.0, 30.5)}
    ids |= {replace(base, variant="document", documents=d).name for d in (2, 3)}
    ids |= {replace(base, batch=b).name for b in (1, 4)}
    assert len(ids) == 9, ids
    assert replace(base, variant="softcap", softcap=50.0).name == "GroupQueryAttention-softcap.c50-q4kv2-d16-s8x16-fp32"
    assert replace(base, variant="sliding_window", window=4).name.startswith("GroupQueryAttention-sliding_window.w4-")
    assert replace(base, batch=4).name.endswith("-s8x16-b4-fp32")
    assert base.name == "GroupQueryAttention-causal-q4kv2-d16-s8x16-fp32"  # batch 1 and causal: as before


def _suite_file(tmp_path: Path, tables: str) -> Path:
    path = tmp_path / "ops.toml"
    path.write_text('id = "ops"\n[defaults]\nq_heads = 4\nkv_heads = 2\nhead_size = 16\nq_len = 8\nkv_len = 16\n'
                    + tables)
    return path


def test_two_specs_differing_only_in_softcap_or_window_are_two_cells(tmp_path: Path) -> None:
    tables = "".join(f'[[operators]]\noperator = "GroupQueryAttention"\n{extra}\n' for extra in (
        'variant = "softcap"\nsoftcap = 50.0', 'variant = "softcap"\nsoftcap = 30.0',
        'variant = "sliding_window"\nwindow = 4', 'variant = "sliding_window"\nwindow = 8'))
    loaded = load_operator_suite(str(_suite_file(tmp_path, tables)))
    assert loaded is not None and len({s.name for s in loaded[1]}) == 4


def _mod_file(path: Path, op: str, count: int = 1) -> Path:
    import onnx
    from onnx import TensorProto, helper

    names = ["scores", *[f"t{i}" for i in range(count - 1)], "scores_out"]
    nodes = [helper.make_node(op, [names[i]], [names[i + 1]]) for i in range(count)]
    graph = helper.make_graph(nodes, "mod", [helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("scores_out", TensorProto.FLOAT, None)])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)]), path)
    return path


def test_score_mod_files_of_the_same_stem_in_two_folders_are_two_readable_cells(tmp_path: Path) -> None:
    _mod_file(tmp_path / "a" / "mod.onnx", "Tanh")
    _mod_file(tmp_path / "b" / "mod.onnx", "Neg")
    tables = "".join(f'[[operators]]\noperator = "FlexAttentionExpanded"\nvariant = "score_mod"\n'
                     f'score_mod = "{folder}/mod.onnx"\n' for folder in ("a", "b"))
    loaded = load_operator_suite(str(_suite_file(tmp_path, tables)))
    assert loaded is not None
    names = [s.name for s in loaded[1]]
    assert len(set(names)) == 2 and all(re.search(r"-score_mod\.mod-[0-9a-f]{8}-q4kv2", n) for n in names), names
    # the same content under another stem keeps its hash; an odd stem becomes a readable slug
    odd = from_file(_mod_file(tmp_path / "c" / 'my "mod" <x>.onnx', "Tanh"))
    assert re.fullmatch(r"my_mod_x-[0-9a-f]{8}", odd.name), odd.name
    assert odd.name.split("-")[1] == from_file(tmp_path / "a" / "mod.onnx").name.split("-")[1]


def test_a_score_mod_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.onnx"
    with open(big, "wb") as fh:  # sparse: the size is what counts
        fh.truncate(MAX_FILE_BYTES + 1)
    os.chmod(big, 0o200)  # not even readable: refused by its size alone
    with pytest.raises(WorkloadError, match=r"'score_mod': .*big.onnx is larger than 1024 KiB"):
        from_file(big)


def test_a_score_mod_over_the_node_cap_is_refused_subgraphs_included(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match=rf"'score_mod': .* holds {MAX_NODES + 1} nodes"):
        from_file(_mod_file(tmp_path / "long.onnx", "Neg", MAX_NODES + 1))
    assert from_file(_mod_file(tmp_path / "ok.onnx", "Neg", MAX_NODES)).nodes == MAX_NODES
    with pytest.raises(WorkloadError, match=rf"'score_mod': {MAX_NODES + 1} steps"):
        from_expression(["neg"] * (MAX_NODES + 1))


def test_a_score_mod_whose_reference_is_not_finite_is_refused_by_field_before_any_cell(tmp_path: Path) -> None:
    body = '[[operators]]\noperator = "FlexAttentionExpanded"\nvariant = "score_mod"\nscore_mod = ["mul 1e30", "exp"]\n'
    store = tmp_path / "s.sqlite"
    proc = run_cli("run", "--suite", _suite_file(tmp_path, body), "--store", store, "--framework", "onnxruntime",
                   "--device", "CPU")
    assert proc.returncode == EXIT_CODES["WorkloadError"], proc.stderr
    *notes, line = proc.stderr.splitlines()  # the progress note that the models are being built, then the error
    assert notes == ["suite ops: building 1 operator models and their reference outputs ..."], proc.stderr
    assert line.startswith("genai-harness: error: operator spec FlexAttentionExpanded-score_mod.expr-")
    assert "NaN or inf" in line and "'score_mod'" in line
    assert not store.exists() or ResultStore(store).read().empty


def test_a_score_mod_that_expands_the_scores_to_a_huge_tensor_is_refused_before_it_runs(tmp_path: Path) -> None:
    """30 scores expanded to 30 million values (then reduced back to the scores' shape): it type-checks and keeps
    the shape, but its size is known statically and refused before onnx's evaluator would allocate it."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([1, 2, 3, 5, 10**6], dtype=np.int64), "shape"),
             numpy_helper.from_array(np.array([4], dtype=np.int64), "axes")]
    nodes = [helper.make_node("Unsqueeze", ["scores", "axes"], ["u"]),
             helper.make_node("Expand", ["u", "shape"], ["big"]),
             helper.make_node("ReduceMax", ["big", "axes"], ["scores_out"], keepdims=0)]
    graph = helper.make_graph(nodes, "bomb", [helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("scores_out", TensorProto.FLOAT, None)], initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)]), tmp_path / "bomb.onnx")
    with pytest.raises(WorkloadError, match=r"'score_mod' \(bomb-[0-9a-f]{8}\): its value 'big' holds 30000000 "):
        from_file(tmp_path / "bomb.onnx")
