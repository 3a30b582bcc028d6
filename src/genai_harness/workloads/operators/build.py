"""Build a single-operator ONNX model from an :class:`OperatorSpec` with ``onnx.helper``.

Every model takes ``Q``, ``K``, ``V`` (rank 4, ``(batch, heads, length, head_size)``; MultiHeadAttention:
rank 3, ``(batch, length, heads*head_size)``) and returns ``Y`` in the same layout as ``Q``. The masking
variant is a constant additive bias (``-inf`` is a large finite negative so fp16 stays finite); soft-capping
(Gemma 2) is ``softcap * tanh(scores / softcap)`` before the bias.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnx.inliner
from onnx import TensorProto, defs, helper, numpy_helper

from genai_harness.workloads.operators.spec import OperatorSpec, validate_spec

NEG = -30000.0  # fits fp16; exp() of it underflows to 0 in both dtypes


def _elem(spec: OperatorSpec) -> int:
    return TensorProto.FLOAT16 if spec.dtype == "float16" else TensorProto.FLOAT


def score_bias(spec: OperatorSpec) -> np.ndarray:
    """The additive bias of the variant, shape ``(1, Hq or 1, q_len, kv_len)``; query i sits at kv_len-q_len+i."""
    q_pos = np.arange(spec.kv_len - spec.q_len, spec.kv_len)[:, None]
    k_pos = np.arange(spec.kv_len)[None, :]
    allowed = k_pos <= q_pos
    if spec.variant == "plain":
        allowed = np.ones_like(allowed)
    elif spec.variant == "sliding_window":
        allowed &= (q_pos - k_pos) < spec.window
    elif spec.variant == "document":
        doc_of = (np.arange(spec.kv_len) * spec.documents) // spec.kv_len
        allowed &= doc_of[q_pos] == doc_of[k_pos]
    bias = np.where(allowed, 0.0, NEG)[None, None]
    if spec.variant == "alibi":
        slopes = 2.0 ** (-8.0 * np.arange(1, spec.q_heads + 1) / spec.q_heads)
        distance = (q_pos - k_pos).astype(np.float64)
        bias = np.where(allowed[None], -slopes[:, None, None] * distance[None], NEG)[None]
    return bias.astype(np.float16 if spec.dtype == "float16" else np.float32)


def make_inputs(spec: OperatorSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded standard-normal Q, K, V in the model's layout and dtype."""
    rng = np.random.default_rng(seed)
    dt = np.float16 if spec.dtype == "float16" else np.float32
    b, d = spec.batch, spec.head_size
    shapes = {"Q": (b, spec.q_heads, spec.q_len, d), "K": (b, spec.kv_heads, spec.kv_len, d),
              "V": (b, spec.kv_heads, spec.kv_len, d)}
    if spec.operator == "MultiHeadAttention":
        shapes = {"Q": (b, spec.q_len, spec.q_heads * d), "K": (b, spec.kv_len, spec.kv_heads * d),
                  "V": (b, spec.kv_len, spec.kv_heads * d)}
    return {k: rng.standard_normal(s).astype(dt) for k, s in shapes.items()}


def _io(spec: OperatorSpec) -> tuple[list, list]:
    shapes = {k: list(v.shape) for k, v in make_inputs(spec).items()}
    elem = _elem(spec)
    inputs = [helper.make_tensor_value_info(k, elem, s) for k, s in shapes.items()]
    return inputs, [helper.make_tensor_value_info("Y", elem, shapes["Q"])]


def _score_mod_nodes(spec: OperatorSpec, src: str, dst: str, prefix: str) -> tuple[list, list]:
    """Nodes (and initializers) turning raw scaled scores into modified scores: softcap then bias."""
    nodes, inits = [], [numpy_helper.from_array(score_bias(spec), f"{prefix}bias")]
    cur = src
    if spec.variant == "softcap":
        cap = numpy_helper.from_array(np.array(spec.softcap, dtype=score_bias(spec).dtype), f"{prefix}cap")
        inits.append(cap)
        nodes += [helper.make_node("Div", [cur, f"{prefix}cap"], [f"{prefix}d"]),
                  helper.make_node("Tanh", [f"{prefix}d"], [f"{prefix}t"]),
                  helper.make_node("Mul", [f"{prefix}t", f"{prefix}cap"], [f"{prefix}c"])]
        cur = f"{prefix}c"
    nodes.append(helper.make_node("Add", [cur, f"{prefix}bias"], [dst]))
    return nodes, inits


def _model(spec: OperatorSpec, nodes: list, inits: list, opsets: list, functions: list | None = None
           ) -> onnx.ModelProto:
    inputs, outputs = _io(spec)
    graph = helper.make_graph(nodes, spec.name, inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=opsets, functions=functions or [])
    model.ir_version = 10
    return model


def _decomposed(spec: OperatorSpec) -> onnx.ModelProto:
    """MatMul -> scale -> (softcap) -> bias -> Softmax -> MatMul, K/V heads repeated for GQA."""
    group = spec.q_heads // spec.kv_heads
    nodes, dt = [], score_bias(spec).dtype
    inits = [numpy_helper.from_array(np.array(1 / math.sqrt(spec.head_size), dtype=dt), "scale")]
    k, v = "K", "V"
    if group > 1:
        shape5 = np.array([spec.batch, spec.kv_heads, group, spec.kv_len, spec.head_size], dtype=np.int64)
        shape4 = np.array([spec.batch, spec.q_heads, spec.kv_len, spec.head_size], dtype=np.int64)
        inits += [numpy_helper.from_array(shape5, "shape5"), numpy_helper.from_array(shape4, "shape4"),
                  numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2")]
        for name in ("K", "V"):
            nodes += [helper.make_node("Unsqueeze", [name, "axis2"], [f"{name}u"]),
                      helper.make_node("Expand", [f"{name}u", "shape5"], [f"{name}e"]),
                      helper.make_node("Reshape", [f"{name}e", "shape4"], [f"{name}g"])]
        k, v = "Kg", "Vg"
    nodes += [helper.make_node("Transpose", [k], ["Kt"], perm=[0, 1, 3, 2]),
              helper.make_node("MatMul", ["Q", "Kt"], ["qk"]),
              helper.make_node("Mul", ["qk", "scale"], ["scores"])]
    mod_nodes, mod_inits = _score_mod_nodes(spec, "scores", "masked", "m_")
    nodes += [*mod_nodes, helper.make_node("Softmax", ["masked"], ["probs"], axis=-1),
                          helper.make_node("MatMul", ["probs", v], ["Y"])]
    return _model(spec, nodes, inits + mod_inits, [helper.make_opsetid("", 21)])


def _attention(spec: OperatorSpec) -> onnx.ModelProto:
    attrs = {"softcap": float(spec.softcap)} if spec.variant == "softcap" else {}
    bias = numpy_helper.from_array(score_bias(spec), "mask")
    node = helper.make_node("Attention", ["Q", "K", "V", "mask"], ["Y"], **attrs)
    return _model(spec, [node], [bias], [helper.make_opsetid("", spec.resolved_opset)])


def _multi_head(spec: OperatorSpec) -> onnx.ModelProto:
    attrs = {"num_heads": spec.q_heads}
    if spec.variant == "softcap":
        raise NotImplementedError  # guarded by the suite: MultiHeadAttention has no soft-capping
    bias = numpy_helper.from_array(np.broadcast_to(score_bias(spec), (1, spec.q_heads, spec.q_len, spec.kv_len))
                                   .copy(), "bias")
    node = helper.make_node("MultiHeadAttention", ["Q", "K", "V", "", "", "bias"], ["Y"],
                            domain="com.microsoft", **attrs)
    return _model(spec, [node], [bias], [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])


def _flex_node(spec: OperatorSpec) -> onnx.NodeProto:
    inputs = [helper.make_tensor_value_info("s", _elem(spec), None)]
    nodes, inits = _score_mod_nodes(spec, "s", "s_out", "")
    score_mod = helper.make_graph(nodes, "score_mod", inputs,
                                  [helper.make_tensor_value_info("s_out", _elem(spec), None)],
                                  initializer=inits)
    return helper.make_node("FlexAttention", ["Q", "K", "V"], ["Y"], domain="ai.onnx.preview",
                            score_mod=score_mod)


def _flex(spec: OperatorSpec) -> onnx.ModelProto:
    return _model(spec, [_flex_node(spec)], [], [helper.make_opsetid("", 24),
                                                 helper.make_opsetid("ai.onnx.preview", 1)])


def _flex_expanded(spec: OperatorSpec) -> onnx.ModelProto:
    """FlexAttention through its context-dependent function body: standard ops only (see FACTS.md)."""
    node = _flex_node(spec)
    inputs, _ = _io(spec)
    schema = defs.get_schema("FlexAttention", 1, "ai.onnx.preview")
    types = [i.type.SerializeToString() for i in inputs]
    body = onnx.FunctionProto()
    body.ParseFromString(schema.get_context_dependent_function(node.SerializeToString(), types))
    body.name, body.domain = "FlexAttentionBody", "genai_harness.expanded"
    local = helper.make_node("FlexAttentionBody", ["Q", "K", "V"], ["Y"], domain="genai_harness.expanded")
    opsets = [helper.make_opsetid("", 24), helper.make_opsetid("genai_harness.expanded", 1)]
    opsets += [o for o in body.opset_import if o.domain not in ("", "genai_harness.expanded")]
    model = _model(spec, [local], [], opsets, [body])
    return onnx.inliner.inline_local_functions(model)


BUILDERS = {"Attention": _attention, "MatMulSoftmaxMatMul": _decomposed, "FlexAttention": _flex,
            "FlexAttentionExpanded": _flex_expanded, "MultiHeadAttention": _multi_head}


def build_model(spec: OperatorSpec) -> onnx.ModelProto:
    """The ONNX model of ``spec`` (validated first)."""
    return BUILDERS[validate_spec(spec).operator](spec)


def reference_model(spec: OperatorSpec) -> onnx.ModelProto:
    """The model onnx's ReferenceEvaluator runs for ``spec``: the model itself for standard domains;
    for com.microsoft operators the equivalent decomposed standard-op model."""
    if spec.resolved_domain == "com.microsoft":
        from dataclasses import replace

        return _decomposed(replace(spec, operator="MatMulSoftmaxMatMul", domain=None, opset=None))
    return build_model(spec)


def reference_output(spec: OperatorSpec, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """``Y`` from :class:`onnx.reference.ReferenceEvaluator` in float64 accumulation of the same dtype inputs."""
    from onnx.reference import ReferenceEvaluator

    model = reference_model(spec)
    if spec.operator == "MultiHeadAttention":  # the decomposed reference takes rank-4 inputs
        b, d = spec.batch, spec.head_size
        feeds = {k: v.reshape(b, v.shape[1], -1, d).transpose(0, 2, 1, 3) for k, v in feeds.items()}
        out = ReferenceEvaluator(model).run(None, feeds)[0]
        return out.transpose(0, 2, 1, 3).reshape(b, spec.q_len, spec.q_heads * d)
    return ReferenceEvaluator(model).run(None, feeds)[0]


def agreement(spec: OperatorSpec, got: np.ndarray, want: np.ndarray) -> tuple[float, float, bool]:
    """(max abs error, max relative error, within the dtype's tolerance) of a runtime against the reference."""
    from genai_harness.workloads.operators.spec import TOLERANCE

    g, w = got.astype(np.float64), want.astype(np.float64)
    if g.shape != w.shape:
        return math.inf, math.inf, False
    diff = np.abs(g - w)
    abs_err = float(diff.max())
    rel_err = float((diff / np.maximum(np.abs(w), 1e-6)).max())
    atol, rtol = TOLERANCE[spec.dtype]
    return abs_err, rel_err, bool(np.all(diff <= atol + rtol * np.abs(w)))
