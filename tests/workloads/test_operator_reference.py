"""The chunked reference: onnx's ReferenceEvaluator run over chunks of batch, query heads and query rows gives the
numbers of the whole run (bit for bit over batch and heads), and every shipped operator suite fits the memory
budget of a 24 GiB machine."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support.operators import if_score_mod

from genai_harness.workloads.operators import bounds
from genai_harness.workloads.operators.build import canonical_inputs, reference_output
from genai_harness.workloads.operators.reference import chunked_reference, reference_key, shared_reference
from genai_harness.workloads.operators.score_mod import from_expression, from_file
from genai_harness.workloads.operators.spec import TOLERANCE, OperatorSpec
from genai_harness.workloads.operators.suites import SUITES, load_operator_suite

SHAPE = {"q_heads": 6, "kv_heads": 2, "head_size": 16, "q_len": 24, "kv_len": 40, "batch": 2}
SPECS = [
    OperatorSpec("Attention", variant="causal", **SHAPE),
    OperatorSpec("Attention", variant="alibi", **SHAPE),  # per-head slopes: the chunk's bias is cut by head
    OperatorSpec("MatMulSoftmaxMatMul", variant="document", documents=3, **SHAPE),
    OperatorSpec("GroupQueryAttention", variant="sliding_window", window=7, **SHAPE),
    OperatorSpec("GroupQueryAttention", variant="softcap", softcap=5.0, dtype="float16", **SHAPE),
    OperatorSpec("MultiHeadAttention", variant="alibi", **{**SHAPE, "kv_heads": 6}),
    OperatorSpec("FlexAttentionExpanded", variant="score_mod", score_mod=from_expression(["div 3", "tanh", "mul 3"]),
                 **SHAPE),
]


def _whole(key: OperatorSpec) -> np.ndarray:
    """The reference as one run of the whole model (K/V repeated over each query head's group), as it was."""
    group = key.q_heads // key.kv_heads
    feeds = {k: (np.repeat(v, group, axis=1) if k != "Q" else v) for k, v in canonical_inputs(key).items()}
    return reference_output(replace(key, kv_heads=key.q_heads), feeds)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_reference_chunked_over_batch_and_heads_is_the_whole_one_bit_for_bit(
        spec: OperatorSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    key = reference_key(spec)
    whole = _whole(key)
    # two query heads a chunk, 3 a batch; with 6 query heads on 2 KV heads (head h reads KV head h // 3) the
    # chunk of heads 2 and 3 straddles the two KV heads' groups
    monkeypatch.setattr(bounds, "REFERENCE_CHUNK_SCORES", 2 * spec.q_len * spec.kv_len)
    assert bounds.reference_chunk(key) == (1, 2, spec.q_len)
    chunked = chunked_reference(key)
    assert chunked.dtype == whole.dtype == np.float32 and chunked.shape == whole.shape
    assert np.array_equal(chunked, whole)
    assert np.array_equal(shared_reference(spec), shared_reference(spec, {}))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_reference_chunked_over_query_rows_agrees_far_inside_the_tolerance(
        spec: OperatorSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past REFERENCE_CHUNK_SCORES scores a head, a head's query rows are cut too (5 rows a chunk here, the last
    one shorter): a matrix product of fewer rows may round its last bit differently, nothing more."""
    key = reference_key(spec)
    monkeypatch.setattr(bounds, "REFERENCE_CHUNK_SCORES", 5 * spec.kv_len)
    assert bounds.reference_chunk(key) == (1, 1, 5)
    chunked, whole = chunked_reference(key), _whole(key)
    assert np.allclose(chunked, whole, rtol=1e-6, atol=1e-6), float(np.abs(chunked - whole).max())
    assert float(np.abs(chunked - whole).max()) < TOLERANCE[spec.dtype][0] / 100  # the absolute tolerance


def _head_mean_mod(path: Path) -> Path:
    """A score_mod that subtracts the mean over query heads: each score depends on every head's."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceMean", ["scores", "axes"], ["m"], keepdims=1),
             helper.make_node("Sub", ["scores", "m"], ["scores_out"])]
    graph = helper.make_graph(nodes, "mod", [helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("scores_out", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)]), path)
    return path


def test_a_score_mod_that_reads_other_scores_is_not_chunked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mean over heads, or an If on the scores' maximum, changes with the chunk: such a reference runs whole."""
    monkeypatch.setattr(bounds, "REFERENCE_CHUNK_SCORES", 8)
    for mod in (from_file(_head_mean_mod(tmp_path / "head_mean.onnx")), from_file(if_score_mod(tmp_path / "if.onnx"))):
        assert not mod.elementwise
        key = reference_key(OperatorSpec("FlexAttention", variant="score_mod", score_mod=mod, **SHAPE))
        assert bounds.reference_chunk(key) == (key.batch, key.q_heads, key.q_len)
        assert np.array_equal(chunked_reference(key), _whole(key))
    assert from_expression(["div 30", "tanh", "mul 30"]).elementwise


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_every_shipped_operator_suite_fits_the_budget_of_a_24_gib_machine_with_headroom(
        suite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    class _Memory:
        total = 24 * 2**30

    monkeypatch.setattr(psutil, "virtual_memory", lambda: _Memory())
    budget = bounds.memory_budget_bytes()
    assert budget == int(0.75 * 24 * 2**30)
    loaded = load_operator_suite(suite)  # every spec validated (its mask within a model's 2 GiB), then the suite
    assert loaded is not None
    specs = loaded[1]
    assert bounds.suite_bytes(specs) < 0.7 * budget, bounds.suite_bytes(specs) / 2**30
