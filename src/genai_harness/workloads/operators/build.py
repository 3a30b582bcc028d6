"""Build a single-operator ONNX model from an :class:`OperatorSpec` with ``onnx.helper``.

Every model takes ``Q``, ``K``, ``V`` (rank 4, ``(batch, heads, length, head_size)``; MultiHeadAttention:
rank 3, ``(batch, length, heads*head_size)``) and returns ``Y`` in the same layout as ``Q``. The masking
variant is a constant additive bias (``-inf`` is a large finite negative so fp16 stays finite); soft-capping
(Gemma 2) is ``softcap * tanh(scores / softcap)`` before the bias.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np
import onnx
import onnx.inliner
from onnx import TensorProto, defs, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from genai_harness.workloads.operators.spec import TOLERANCE, OperatorSpec, validate_spec

NEG = -30000.0  # fits fp16; exp() of it underflows to 0 in both dtypes


def _elem(spec: OperatorSpec) -> int:
    return TensorProto.FLOAT16 if spec.dtype == "float16" else TensorProto.FLOAT


def score_bias(spec: OperatorSpec, dtype: str | None = None, heads: slice = slice(None), rows: slice = slice(None)
               ) -> np.ndarray:
    """The additive bias of the variant, shape ``(1, Hq or 1, q_len, kv_len)``; query i sits at kv_len-q_len+i.

    In the spec's dtype, or ``dtype`` (FlexAttention's score_mod works in float32 whatever the inputs).
    ``heads`` and ``rows`` cut one chunk of it (the same numbers as cutting the whole, never made whole).
    """
    q_pos = np.arange(spec.kv_len - spec.q_len, spec.kv_len)[rows][:, None]
    k_pos = np.arange(spec.kv_len)[None, :]
    allowed = k_pos <= q_pos
    if spec.variant == "plain":
        allowed = np.ones_like(allowed)
    elif spec.variant == "sliding_window":
        allowed &= (q_pos - k_pos) < spec.window
    elif spec.variant == "document":
        doc_of = (np.arange(spec.kv_len) * spec.documents) // spec.kv_len
        allowed &= doc_of[q_pos] == doc_of[k_pos]
    out = np.float16 if (dtype or spec.dtype) == "float16" else np.float32
    if spec.variant != "alibi":
        return np.where(allowed, out(0.0), out(NEG))[None, None]
    # per head: built in float32 (exact: fp16 slopes times integer distances below 2**20), never float64, so a
    # long prefill's bias costs two float32 copies, not five float64 ones
    slopes = 2.0 ** (-8.0 * np.arange(1, spec.q_heads + 1) / spec.q_heads)
    slopes = slopes.astype(np.float16).astype(np.float32)[heads]  # the same slopes in fp16 and fp32 models
    distance = (q_pos - k_pos).astype(np.float32)
    bias = np.where(allowed[None], -slopes[:, None, None] * distance[None], np.float32(NEG))[None]
    return bias.astype(out, copy=False)


def _bsh(x: np.ndarray) -> np.ndarray:
    """(batch, heads, length, head_size) -> (batch, length, heads*head_size)."""
    return x.transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3])


def canonical_inputs(spec: OperatorSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded standard-normal rank-4 Q ``(B, Hq, q_len, D)``, K and V ``(B, Hkv, kv_len, D)`` in the spec's dtype.

    Every operator's own inputs are cut from these, so operators of the same shapes and dtype see the same
    numbers and share one reference output.
    """
    b, d = spec.batch, spec.head_size
    drawn = _draw(((b, spec.q_heads, spec.q_len, d), (b, spec.kv_heads, spec.kv_len, d)), seed)
    if spec.dtype == "float16":
        return {k: v.astype(np.float16) for k, v in drawn.items()}
    return dict(drawn)


@functools.lru_cache(maxsize=8)
def _draw(shapes: tuple[tuple[int, ...], tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Q, K, V drawn once per shape and seed (read-only: specs of the same shapes share them)."""
    rng = np.random.default_rng(seed)
    q_shape, kv_shape = shapes
    drawn = {k: rng.standard_normal(s, dtype=np.float32) for k, s in (("Q", q_shape), ("K", kv_shape),
                                                                       ("V", kv_shape))}
    for array in drawn.values():
        array.flags.writeable = False
    return drawn


def make_inputs(spec: OperatorSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """The operator's inputs in its own layout, cut from :func:`canonical_inputs`."""
    q4, k4, v4 = canonical_inputs(spec, seed).values()
    if spec.operator == "MultiHeadAttention":
        return {"Q": _bsh(q4), "K": _bsh(k4), "V": _bsh(v4)}
    if spec.operator != "GroupQueryAttention":
        return {"Q": q4, "K": k4, "V": v4}
    past = spec.kv_len - spec.q_len
    new = {"Q": _bsh(q4), "K": _bsh(k4[:, :, past:]), "V": _bsh(v4[:, :, past:])}
    feeds = {"QKV": np.concatenate(list(new.values()), axis=-1)} if spec.packed_qkv else new
    if past:
        feeds |= {"past_key": np.ascontiguousarray(k4[:, :, :past]),
                  "past_value": np.ascontiguousarray(v4[:, :, :past])}
    return feeds


def input_shapes(spec: OperatorSpec) -> dict[str, tuple[int, ...]]:
    """The shapes of :func:`make_inputs` without drawing any number."""
    b, d, hq, hkv = spec.batch, spec.head_size, spec.q_heads, spec.kv_heads
    if spec.operator == "MultiHeadAttention":
        return {"Q": (b, spec.q_len, hq * d), "K": (b, spec.kv_len, hkv * d), "V": (b, spec.kv_len, hkv * d)}
    if spec.operator != "GroupQueryAttention":
        return {"Q": (b, hq, spec.q_len, d), "K": (b, hkv, spec.kv_len, d), "V": (b, hkv, spec.kv_len, d)}
    new = spec.q_len
    shapes = {"QKV": (b, new, (hq + 2 * hkv) * d)} if spec.packed_qkv else \
        {"Q": (b, new, hq * d), "K": (b, new, hkv * d), "V": (b, new, hkv * d)}
    past = spec.kv_len - spec.q_len
    if past:
        shapes |= {"past_key": (b, hkv, past, d), "past_value": (b, hkv, past, d)}
    return shapes


def _io(spec: OperatorSpec) -> tuple[list, list]:
    shapes = input_shapes(spec)
    elem = _elem(spec)
    inputs = [helper.make_tensor_value_info(k, elem, s) for k, s in shapes.items()]
    out_shape = shapes["Q"] if "Q" in shapes else [spec.batch, spec.q_len, spec.q_heads * spec.head_size]
    return inputs, [helper.make_tensor_value_info("Y", elem, out_shape)]


def _score_mod_nodes(spec: OperatorSpec, src: str, dst: str, prefix: str, dtype: str | None = None
                     ) -> tuple[list, list]:
    """Nodes (and initializers) turning raw scaled scores into modified scores: softcap then bias."""
    bias = score_bias(spec, dtype)
    nodes, inits = [], [numpy_helper.from_array(bias, f"{prefix}bias")]
    cur = src
    if spec.variant == "softcap":
        cap = numpy_helper.from_array(np.array(spec.softcap, dtype=bias.dtype), f"{prefix}cap")
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
    attrs = {"num_heads": spec.q_heads}  # no soft-capping in MultiHeadAttention: validate_spec refuses it
    bias = numpy_helper.from_array(np.broadcast_to(score_bias(spec), (1, spec.q_heads, spec.q_len, spec.kv_len))
                                   .copy(), "bias")
    node = helper.make_node("MultiHeadAttention", ["Q", "K", "V", "", "", "bias"], ["Y"],
                            domain="com.microsoft", **attrs)
    return _model(spec, [node], [bias], [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])


def _gqa(spec: OperatorSpec) -> onnx.ModelProto:
    """com.microsoft GroupQueryAttention: (packed or separate) new Q/K/V of ``q_len`` tokens in BSH layout,
    past K/V of ``kv_len - q_len`` tokens in BNSH, ``seqlens_k`` = kv_len - 1, ``total_sequence_length`` =
    kv_len. Causal masking, sliding window (``local_window_size``) and soft-capping are its own attributes;
    ALiBi and document masks go in through ``attention_bias``."""
    attrs: dict = {"num_heads": spec.q_heads, "kv_num_heads": spec.kv_heads}
    inits = [numpy_helper.from_array(np.full(spec.batch, spec.kv_len - 1, dtype=np.int32), "seqlens_k"),
             numpy_helper.from_array(np.array(spec.kv_len, dtype=np.int32), "total_sequence_length")]
    bias = ""
    if spec.variant == "plain":
        attrs["causal"] = 0
    elif spec.variant == "sliding_window":
        attrs["local_window_size"] = spec.window  # measured: onnxruntime 1.32 keeps the last `window` keys
    elif spec.variant == "softcap":
        attrs["softcap"] = float(spec.softcap)
    elif spec.variant in ("alibi", "document"):
        inits.append(numpy_helper.from_array(score_bias(spec), "attention_bias"))
        bias = "attention_bias"
    qkv = ["QKV", "", ""] if spec.packed_qkv else ["Q", "K", "V"]
    past = ["past_key", "past_value"] if spec.kv_len > spec.q_len else ["", ""]
    inputs = [*qkv, *past, "seqlens_k", "total_sequence_length", "", "", "", bias]
    while inputs[-1] == "":
        inputs.pop()
    node = helper.make_node("GroupQueryAttention", inputs, ["Y", "present_key", "present_value"],
                            domain="com.microsoft", **attrs)
    return _model(spec, [node], inits, [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])


def _score_mod_graph(spec: OperatorSpec) -> onnx.GraphProto:
    """The variant's (or the user's) score_mod graph ``(scores) -> scores_out``, in float32."""
    if spec.score_mod is not None:
        return spec.score_mod.graph_proto()
    inputs = [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)]
    nodes, inits = _score_mod_nodes(spec, "s", "s_out", "", "float32")
    return helper.make_graph(nodes, "score_mod", inputs, [helper.make_tensor_value_info("s_out", TensorProto.FLOAT,
                                                                                         None)], initializer=inits)


def _flex_node(spec: OperatorSpec, score_mod: onnx.GraphProto | None = None) -> onnx.NodeProto:
    """FlexAttention with the variant (or the user's score_mod) as its score_mod, in float32 (its
    softmax_precision for float16 and float32 inputs)."""
    return helper.make_node("FlexAttention", ["Q", "K", "V"], ["Y"], domain="ai.onnx.preview",
                            score_mod=score_mod if score_mod is not None else _score_mod_graph(spec))


def _flex(spec: OperatorSpec) -> onnx.ModelProto:
    return _model(spec, [_flex_node(spec)], [], [helper.make_opsetid("", 24),
                                                 helper.make_opsetid("ai.onnx.preview", 1)])


_MOD_DOMAIN = "genai_harness.score_mod"


def _score_mod_function(graph: onnx.GraphProto) -> onnx.FunctionProto:
    """``graph`` as a local function ``ScoreMod(scores) -> scores_out`` (initializers become Constant nodes)."""
    consts = [helper.make_node("Constant", [], [t.name], value=t) for t in graph.initializer]
    consts += [helper.make_node("Constant", [], [t.values.name], sparse_value=t) for t in graph.sparse_initializer]
    return helper.make_function(_MOD_DOMAIN, "ScoreMod", [graph.input[0].name], [graph.output[0].name],
                                [*consts, *graph.node], [helper.make_opsetid("", 24)])


def _flex_expanded(spec: OperatorSpec) -> onnx.ModelProto:
    """FlexAttention through its context-dependent function body: standard ops only (see FACTS.md).

    The body is made around a one-node placeholder score_mod that calls a local function holding the real one;
    onnx's inliner then inlines both. (onnx 1.23's FlexAttention body renames the score_mod's input only in
    its top-level nodes, so an If or Loop branch that reads the scores would point at a name that no longer
    exists; the inliner renames outer-scope references in subgraphs, recursively.)
    """
    placeholder = helper.make_graph(
        [helper.make_node("ScoreMod", ["s"], ["s_out"], domain=_MOD_DOMAIN)], "score_mod",
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, None)])
    node = _flex_node(spec, placeholder)
    inputs, _ = _io(spec)
    schema = defs.get_schema("FlexAttention", 1, "ai.onnx.preview")
    types = [i.type.SerializeToString() for i in inputs]
    body = onnx.FunctionProto()
    body.ParseFromString(schema.get_context_dependent_function(node.SerializeToString(), types))
    body.name, body.domain = "FlexAttentionBody", "genai_harness.expanded"
    body.opset_import.append(helper.make_opsetid(_MOD_DOMAIN, 1))
    local = helper.make_node("FlexAttentionBody", ["Q", "K", "V"], ["Y"], domain="genai_harness.expanded")
    opsets = [helper.make_opsetid("", 24), helper.make_opsetid("genai_harness.expanded", 1),
              helper.make_opsetid(_MOD_DOMAIN, 1)]
    opsets += [o for o in body.opset_import if o.domain not in ("", "genai_harness.expanded", _MOD_DOMAIN)]
    model = _model(spec, [local], [], opsets, [body, _score_mod_function(_score_mod_graph(spec))])
    model = onnx.inliner.inline_local_functions(model)
    kept = [o for o in model.opset_import if o.domain not in ("genai_harness.expanded", _MOD_DOMAIN)]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    return model


BUILDERS = {"Attention": _attention, "MatMulSoftmaxMatMul": _decomposed, "FlexAttention": _flex,
            "FlexAttentionExpanded": _flex_expanded, "MultiHeadAttention": _multi_head,
            "GroupQueryAttention": _gqa}


def build_model(spec: OperatorSpec) -> onnx.ModelProto:
    """The ONNX model of ``spec`` (validated first)."""
    return BUILDERS[validate_spec(spec).operator](spec)


def reference_model(spec: OperatorSpec) -> onnx.ModelProto:
    """The model onnx's ReferenceEvaluator runs for ``spec``: the model itself for standard domains;
    for com.microsoft operators the equivalent decomposed standard-op model (rank-4 inputs, full K/V)."""
    if spec.resolved_domain == "com.microsoft":
        return _decomposed(replace(spec, operator="MatMulSoftmaxMatMul", domain=None, opset=None,
                                   packed_qkv=False))
    return build_model(spec)


def _bnsh(x: np.ndarray, heads: int, head_size: int) -> np.ndarray:
    """(batch, length, heads*head_size) -> (batch, heads, length, head_size)."""
    return x.reshape(x.shape[0], x.shape[1], heads, head_size).transpose(0, 2, 1, 3)


def _reference_feeds(spec: OperatorSpec, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The reference model's rank-4 Q, K, V (full length) from the operator's own inputs."""
    d, hq, hkv = spec.head_size, spec.q_heads, spec.kv_heads
    if spec.operator == "MultiHeadAttention":
        return {k: _bnsh(feeds[k], hq, d) for k in ("Q", "K", "V")}
    if spec.operator != "GroupQueryAttention":
        return feeds
    if spec.packed_qkv:
        q, k, v = np.split(feeds["QKV"], [hq * d, (hq + hkv) * d], axis=-1)
    else:
        q, k, v = feeds["Q"], feeds["K"], feeds["V"]
    k4, v4 = _bnsh(k, hkv, d), _bnsh(v, hkv, d)
    if "past_key" in feeds:
        k4 = np.concatenate([feeds["past_key"], k4], axis=2)
        v4 = np.concatenate([feeds["past_value"], v4], axis=2)
    return {"Q": _bnsh(q, hq, d), "K": k4, "V": v4}


def reference_output(spec: OperatorSpec, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """``Y`` from :class:`onnx.reference.ReferenceEvaluator`. A float16 spec is referenced by its float32
    model on the same (upcast) inputs, so the reference carries no float16 rounding of its own."""
    if spec.dtype == "float16":
        spec = replace(spec, dtype="float32")
        feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
    out = ReferenceEvaluator(reference_model(spec)).run(None, _reference_feeds(spec, feeds))[0]
    if spec.resolved_domain == "com.microsoft":  # back to (batch, length, heads*head_size)
        return out.transpose(0, 2, 1, 3).reshape(spec.batch, spec.q_len, spec.q_heads * spec.head_size)
    return out


def agreement(spec: OperatorSpec, got: np.ndarray, want: np.ndarray) -> tuple[float, float, bool]:
    """(max abs error, max relative error, within the dtype's tolerance) of a runtime against the reference."""
    g, w = got.astype(np.float64), want.astype(np.float64)
    if g.shape != w.shape:
        return math.inf, math.inf, False
    diff = np.abs(g - w)
    abs_err = float(diff.max())
    rel_err = float((diff / np.maximum(np.abs(w), 1e-6)).max())
    atol, rtol = TOLERANCE[spec.dtype]
    return abs_err, rel_err, bool(np.all(diff <= atol + rtol * np.abs(w)))
