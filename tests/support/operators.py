"""Operator test material: a score_mod file whose If branches read the outer scores."""

from __future__ import annotations

from pathlib import Path


def if_score_mod(path: Path) -> Path:
    """A score_mod whose If branches read the outer ``scores``: tanh-capped when the scores' max is above 0."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph([helper.make_node(op, ["scores"], [f"{name}_out"])], name, [],
                                 [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, None)])

    nodes = [helper.make_node("ReduceMax", ["scores"], ["top"], keepdims=0),
             helper.make_node("Greater", ["top", "zero"], ["cond"]),
             helper.make_node("If", ["cond"], ["scores_out"], then_branch=branch("then", "Tanh"),
                              else_branch=branch("else", "Neg"))]
    graph = helper.make_graph(nodes, "if_mod", [helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("scores_out", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)])
    model.ir_version = 10
    onnx.save(model, path)
    return path
