"""A user-supplied FlexAttention ``score_mod``: an ONNX graph file or a small expression list, type-checked.

FlexAttention's ``score_mod`` is a subgraph ``(scores) -> scores_out``: one rank-4 tensor in, one out, same
shape, element type float32 (its ``softmax_precision`` default for float16/float32 inputs). A spec names it

- as a file: ``score_mod = "my_mod.onnx"`` holding an ONNX model (or bare GraphProto) whose graph is that
  subgraph; or
- as an expression list applied in order to the scores, each step an elementwise op with an optional
  scalar: ``score_mod = ["div 30", "tanh", "mul 30"]`` (Gemma-2 style soft-capping at 30).

Either is checked here, before any cell runs: a bad one raises a WorkloadError naming the field.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from genai_harness.errors import WorkloadError

# expression word -> (ONNX op, takes a scalar)
STEPS: dict[str, tuple[str, bool]] = {
    "add": ("Add", True), "sub": ("Sub", True), "mul": ("Mul", True), "div": ("Div", True),
    "max": ("Max", True), "min": ("Min", True), "pow": ("Pow", True),
    "tanh": ("Tanh", False), "neg": ("Neg", False), "abs": ("Abs", False), "exp": ("Exp", False),
    "relu": ("Relu", False), "sigmoid": ("Sigmoid", False),
}
FIELD = "operator spec field 'score_mod'"
PROBE = (1, 2, 3, 5)  # a rank-4 scores shape the check runs the graph on
MAX_FILE_BYTES = 1 << 20
"""A score_mod file's size limit (as a suite file's): its size is checked before a byte is read."""
MAX_NODES = 500
"""The most nodes a score_mod may hold (an expression list: steps), subgraphs included. Each costs the runner
one more score tensor when it computes the reference (see :mod:`.bounds`)."""


@dataclass(frozen=True)
class ScoreMod:
    """A type-checked score modifier: a readable name and its serialized ``onnx.GraphProto``."""

    name: str
    graph: bytes
    nodes: int = 1
    """How many nodes the graph holds, subgraphs included."""
    elementwise: bool = False
    """Whether every node is an elementwise op on the scores and scalars (:func:`is_elementwise`): then each
    score's modified value depends on that score alone, and the reference may be computed in chunks."""

    def graph_proto(self):  # -> onnx.GraphProto, not named here: the annotation would need onnx
        """The subgraph, ready to attach as FlexAttention's ``score_mod`` attribute."""
        # lazy: onnx (a runtime library) only when a score_mod is built or checked; specs load without it
        import onnx

        graph = onnx.GraphProto()
        graph.ParseFromString(self.graph)
        return graph


def _cut(text: str) -> str:
    """``repr(text)`` cut to 40 characters, for a one-line error."""
    shown = repr(text)
    return shown if len(shown) <= 40 else f"{shown[:37]}..."


def from_expression(steps: object) -> ScoreMod:
    """A ScoreMod from an expression list like ``["div 30", "tanh", "mul 30"]``."""
    # lazy: onnx (a runtime library) only when a score_mod is built or checked; specs load without it
    from onnx import TensorProto, helper, numpy_helper

    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        shown = repr(steps) if len(repr(steps)) <= 60 else f"{repr(steps)[:57]}..."
        raise WorkloadError(f"{FIELD}: give an ONNX file path or a non-empty list of steps like "
                            f"[\"div 30\", \"tanh\", \"mul 30\"], got {shown}")
    if len(steps) > MAX_NODES:
        raise WorkloadError(f"{FIELD}: {len(steps)} steps; a score_mod holds at most {MAX_NODES}")
    nodes, inits, current = [], [], "scores"
    for i, step in enumerate(steps):
        words = step.split()
        op_word = words[0].lower() if words else ""
        if op_word not in STEPS:
            raise WorkloadError(f"{FIELD}: step {i + 1} {_cut(step)}: unknown operation {_cut(op_word)}; "
                                f"use one of {', '.join(STEPS)}")
        op, takes_scalar = STEPS[op_word]
        if len(words) != (2 if takes_scalar else 1):
            want = f"'{op_word} NUMBER'" if takes_scalar else f"'{op_word}' alone"
            raise WorkloadError(f"{FIELD}: step {i + 1} {_cut(step)}: write it as {want}")
        inputs = [current]
        if takes_scalar:
            try:
                value = float(words[1])
            except ValueError:
                raise WorkloadError(f"{FIELD}: step {i + 1} {_cut(step)}: {_cut(words[1])} is not a number") from None
            if not np.isfinite(value) or abs(value) > float(np.finfo(np.float32).max):
                raise WorkloadError(f"{FIELD}: step {i + 1} {_cut(step)}: the scalar must be finite in float32 "
                                    "(the scores' type), below 3.4e38 in size")
            inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), f"c{i}"))
            inputs.append(f"c{i}")
        out = "scores_out" if i == len(steps) - 1 else f"t{i}"
        nodes.append(helper.make_node(op, inputs, [out]))
        current = out
    graph = helper.make_graph(nodes, "score_mod", [helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("scores_out", TensorProto.FLOAT, None)],
                              initializer=inits)
    digest = hashlib.sha256(" ".join(steps).encode()).hexdigest()[:8]
    return check_score_mod(ScoreMod(f"expr-{digest}", graph.SerializeToString(), len(nodes), elementwise=True))


def from_file(path: Path) -> ScoreMod:
    """A ScoreMod from an ONNX file holding a model (its graph is taken) or a bare GraphProto."""
    # lazy: onnx (a runtime library) only when a score_mod is built or checked; specs load without it
    import onnx
    from google.protobuf.message import DecodeError

    if not path.is_file():
        raise WorkloadError(f"{FIELD}: file {path} does not exist; give the path of an ONNX file whose graph maps "
                            "scores to modified scores")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise WorkloadError(f"{FIELD}: {path} is larger than {MAX_FILE_BYTES // 1024} KiB; a score_mod is a "
                                "small graph (scores in, scores out)")
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise WorkloadError(f"{FIELD}: cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:  # it grew after the size was read
        raise WorkloadError(f"{FIELD}: {path} is larger than {MAX_FILE_BYTES // 1024} KiB")
    graph = None
    try:
        model = onnx.ModelProto()
        model.ParseFromString(data)
        if model.graph.node:
            graph = model.graph
    except DecodeError:
        pass
    if graph is None:
        try:
            graph = onnx.GraphProto()
            graph.ParseFromString(data)
        except DecodeError:
            graph = None
    if graph is None or not graph.node:
        raise WorkloadError(f"{FIELD}: {path} is not an ONNX model or graph with at least one node")
    nodes = count_nodes(graph)
    if nodes > MAX_NODES:
        raise WorkloadError(f"{FIELD}: {path} holds {nodes} nodes (subgraphs included); a score_mod holds at most "
                            f"{MAX_NODES}")
    graph.name = graph.name or "score_mod"
    serialized = graph.SerializeToString()
    return check_score_mod(ScoreMod(file_mod_name(path, serialized), serialized, nodes, is_elementwise(graph)))


def file_mod_name(path: Path, graph: bytes) -> str:
    """A readable, distinct name for a score_mod file: its stem (letters, digits, ``_`` and ``.``; at most 40)
    and a short hash of its graph, so two files of the same stem in different folders are two cells."""
    stem = re.sub(r"[^A-Za-z0-9_.]+", "_", path.stem)[:40].strip("_.") or "score_mod"
    return f"{stem}-{hashlib.sha256(graph).hexdigest()[:8]}"


ELEMENTWISE_OPS = frozenset({op for op, _ in STEPS.values()} | {
    "Identity", "Cast", "Sqrt", "Reciprocal", "Log", "Erf", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign", "Clip",
    "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign", "HardSigmoid", "Gelu", "Mish", "Where", "Greater", "Less",
    "Equal", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or", "Constant"})
"""Ops whose output at a position is a function of their inputs at that position (with scalars broadcast)."""


def is_elementwise(graph) -> bool:  # graph: onnx.GraphProto, not named here: the annotation would need onnx
    """True when every node of ``graph`` is in ``ELEMENTWISE_OPS``, holds no subgraph, and every constant and
    initializer is a scalar: each modified score then depends on its own score only (never on its neighbours,
    head, row or the tensor's shape), so the scores may be modified chunk by chunk."""
    if any(int(np.prod(t.dims, dtype=np.int64)) != 1 for t in graph.initializer) or graph.sparse_initializer:
        return False
    for node in graph.node:
        if node.op_type not in ELEMENTWISE_OPS or node.domain not in ("", "ai.onnx"):
            return False
        for attribute in node.attribute:
            if attribute.HasField("g") or attribute.graphs or attribute.HasField("sparse_tensor"):
                return False
            if attribute.HasField("t") and int(np.prod(attribute.t.dims, dtype=np.int64)) != 1:
                return False
        if node.op_type == "Constant" and not any(a.HasField("t") or a.name in ("value_float", "value_int")
                                                  for a in node.attribute):
            return False
    return True


def _graphs(graph) -> Iterator[Any]:  # graph: onnx.GraphProto, not named here: the annotation would need onnx
    """``graph`` and every subgraph its nodes' attributes hold, at any depth."""
    stack = [graph]
    while stack:
        current = stack.pop()
        yield current
        for node in current.node:
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    stack.append(attribute.g)
                stack.extend(attribute.graphs)


def count_nodes(graph) -> int:  # graph: onnx.GraphProto, not named here: the annotation would need onnx
    """Nodes of ``graph`` and of every subgraph its nodes' attributes hold, at any depth."""
    return sum(len(current.node) for current in _graphs(graph))


MAX_PROBE_VALUES = 1 << 20
"""The largest value (in numbers) a score_mod may make, statically known, for scores of ``PROBE``'s shape: an
Expand or ConstantOfShape to a huge shape is refused before the graph runs."""


def _does_not_type_check(mod: ScoreMod, exc: Exception) -> NoReturn:
    first = " ".join(str(exc).split())[:400]
    raise WorkloadError(f"{FIELD} ({mod.name}): the graph does not type-check on float32 scores: {first}") from None


def _largest_value(graph) -> tuple[str, int]:  # graph: onnx.GraphProto (the annotation would need onnx)
    """The name and number of elements of the largest value whose shape inference knows, subgraphs included."""
    best = ("", 0)
    for current in _graphs(graph):
        for value in (*current.value_info, *current.output):
            dims = value.type.tensor_type.shape.dim
            if dims and all(d.HasField("dim_value") for d in dims):
                size = int(np.prod([d.dim_value for d in dims], dtype=object))
                best = max(best, (value.name, size), key=lambda pair: pair[1])
    return best


def check_score_mod(mod: ScoreMod) -> ScoreMod:
    """``mod`` if its graph takes one float tensor and gives one of the same shape and type; else a WorkloadError.

    The check runs onnx's strict shape inference on the graph with a concrete rank-4 float32 input, so an op
    that does not accept float, a wrong input count or a shape change is caught here.
    """
    # lazy: onnx (a runtime library) only when a score_mod is built or checked; specs load without it
    import onnx
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    graph = mod.graph_proto()
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise WorkloadError(f"{FIELD} ({mod.name}): the graph must take exactly one input (the scores) and give "
                            f"exactly one output; it has {len(graph.input)} inputs and {len(graph.output)} outputs")
    for what, value in (("input", graph.input[0]), ("output", graph.output[0])):
        elem = value.type.tensor_type.elem_type
        if elem not in (TensorProto.FLOAT, TensorProto.UNDEFINED):
            raise WorkloadError(f"{FIELD} ({mod.name}): the {what} {value.name!r} is "
                                f"{TensorProto.DataType.Name(elem).lower()}; FlexAttention's scores are float32 "
                                "(its softmax_precision for float16 and float32 inputs)")
    probe = onnx.GraphProto()
    probe.CopyFrom(graph)
    probe.input[0].CopyFrom(helper.make_tensor_value_info(graph.input[0].name, TensorProto.FLOAT, list(PROBE)))
    probe.output[0].CopyFrom(helper.make_tensor_value_info(graph.output[0].name, TensorProto.FLOAT, list(PROBE)))
    model = helper.make_model(probe, opset_imports=[helper.make_opsetid("", 24)])
    model.ir_version = 10
    try:
        onnx.checker.check_model(model)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:  # onnx's own words say what does not type-check
        _does_not_type_check(mod, exc)
    name, size = _largest_value(inferred.graph)
    if size > MAX_PROBE_VALUES:
        raise WorkloadError(f"{FIELD} ({mod.name}): its value {_cut(name)} holds {size} numbers for scores of "
                            f"{int(np.prod(PROBE))}; a score_mod works on the scores elementwise, not on tensors "
                            "this much larger")
    try:
        with np.errstate(all="ignore"):  # what the graph computes is judged by its type and shape, not warned about
            out = ReferenceEvaluator(model).run(None, {graph.input[0].name: np.zeros(PROBE, dtype=np.float32)})[0]
    except Exception as exc:  # onnx's own words say what does not type-check
        _does_not_type_check(mod, exc)
    out = np.asarray(out)
    if out.dtype != np.float32:
        raise WorkloadError(f"{FIELD} ({mod.name}): the output is {out.dtype} for float32 scores; it must stay float32")
    if out.shape != PROBE:
        raise WorkloadError(f"{FIELD} ({mod.name}): the output shape {list(out.shape)} differs from the scores' "
                            f"{list(PROBE)}; a score_mod must keep the scores' shape")
    return mod
