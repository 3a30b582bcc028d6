"""The reference output every operator cell is judged against: onnx's ReferenceEvaluator, run chunk by chunk.

The evaluator keeps every intermediate of a run (a 4096-token prefill of 32 heads holds eight or more score
tensors of 2 GiB each), so the reference runs over chunks of batch, query heads and query rows
(:func:`~genai_harness.workloads.operators.bounds.reference_chunk`) and writes each chunk's output into the whole.
The chunks are independent: softmax is per query row; every query head attends to its own K/V head, repeated
from its group's KV head (head ``h`` reads KV head ``h // (q_heads // kv_heads)``, as ``np.repeat`` and the
operators' grouping do); the bias of a chunk is cut from the variant's bias by head and row (:func:`score_bias`);
a user's score_mod is chunked only when it is elementwise. Each chunk runs the same nodes as the whole model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from genai_harness.workloads.operators.bounds import reference_chunk
from genai_harness.workloads.operators.build import _bsh, _decomposed, _flex, canonical_inputs, score_bias
from genai_harness.workloads.operators.spec import OperatorSpec

BIAS = "m_bias"
"""The decomposed model's bias: an input of the chunk model rather than a constant of the whole one."""


def reference_key(spec: OperatorSpec) -> OperatorSpec:
    """Specs with equal keys share one reference output: the same math on the same canonical inputs. The key is
    the decomposed standard-op model of the spec (FlexAttention itself for a user's score_mod)."""
    if spec.score_mod is not None:
        return replace(spec, operator="FlexAttention", domain=None, opset=None, repetitions=1, warmup=0)
    return replace(spec, operator="MatMulSoftmaxMatMul", domain=None, opset=None, packed_qkv=False,
                   repetitions=1, warmup=0)


def chunk_model(key: OperatorSpec, batch: int, heads: int, rows: int) -> onnx.ModelProto:
    """``key``'s float32 model for a chunk of ``batch`` x ``heads`` query heads (each with its own K/V head) x
    ``rows`` query rows against the whole KV length; the decomposed model takes its bias as input ``m_bias``."""
    small = replace(key, batch=batch, q_heads=heads, kv_heads=heads, q_len=rows, dtype="float32")
    if key.operator == "FlexAttention":
        return _flex(small)
    model = _decomposed(small)
    kept = [t for t in model.graph.initializer if t.name != BIAS]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    model.graph.input.append(helper.make_tensor_value_info(BIAS, TensorProto.FLOAT, [1, None, rows, key.kv_len]))
    return model


def chunked_reference(key: OperatorSpec) -> np.ndarray:
    """``Y`` of ``key`` on :func:`canonical_inputs`, ``(batch, q_heads, q_len, head_size)`` in float32 (a float16
    key is referenced in float32 on the upcast inputs), computed chunk by chunk."""
    q4, k4, v4 = canonical_inputs(key).values()
    group = key.q_heads // key.kv_heads
    step_b, step_h, step_r = reference_chunk(key)
    out = np.empty((key.batch, key.q_heads, key.q_len, key.head_size), dtype=np.float32)
    evaluators: dict[tuple[int, int, int], ReferenceEvaluator] = {}
    for b0 in range(0, key.batch, step_b):
        for h0 in range(0, key.q_heads, step_h):
            for r0 in range(0, key.q_len, step_r):
                bs, hs, rs = (slice(b0, min(b0 + step_b, key.batch)), slice(h0, min(h0 + step_h, key.q_heads)),
                              slice(r0, min(r0 + step_r, key.q_len)))
                shape = (bs.stop - b0, hs.stop - h0, rs.stop - r0)
                kv = np.arange(hs.start, hs.stop) // group  # each query head's KV head
                feeds = {"Q": q4[bs, hs, rs].astype(np.float32), "K": k4[bs][:, kv].astype(np.float32, copy=False),
                         "V": v4[bs][:, kv].astype(np.float32, copy=False)}
                if key.operator != "FlexAttention":
                    feeds[BIAS] = score_bias(key, "float32", hs, rs)
                if shape not in evaluators:
                    evaluators[shape] = ReferenceEvaluator(chunk_model(key, *shape))
                out[bs, hs, rs] = evaluators[shape].run(None, feeds)[0]
                del feeds
    return out


def shared_reference(spec: OperatorSpec, cache: dict[OperatorSpec, np.ndarray] | None = None) -> np.ndarray:
    """The reference ``Y`` of ``spec`` in its operator's output layout, from onnx's ReferenceEvaluator running
    :func:`reference_key`'s model on :func:`canonical_inputs`, chunk by chunk (computed once per key when
    ``cache`` is given)."""
    key = reference_key(spec)
    if cache is None or key not in cache:
        y4 = chunked_reference(key)
        if cache is None:
            return _in_layout(spec, y4)
        cache[key] = y4
    return _in_layout(spec, cache[key])


def _in_layout(spec: OperatorSpec, y4: np.ndarray) -> np.ndarray:
    return _bsh(y4) if spec.resolved_domain == "com.microsoft" else y4
