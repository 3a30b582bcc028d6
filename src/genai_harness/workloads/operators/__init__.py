"""Single-operator attention workloads: a spec, its ONNX model built at run time, its numeric reference."""

from genai_harness.workloads.operators.spec import OperatorSpec, validate_spec

__all__ = ["OperatorSpec", "validate_spec"]
