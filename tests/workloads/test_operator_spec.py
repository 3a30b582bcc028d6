"""Operator specs: bad fields are refused by name; built models agree with onnx's reference on real runtimes."""

from __future__ import annotations

import pytest
from support.operators import if_score_mod

from genai_harness.errors import WorkloadError
from genai_harness.workloads.operators.spec import OperatorSpec, validate_spec


@pytest.mark.parametrize(("spec", "field"), [
    (OperatorSpec("Atention"), "'operator'"),
    (OperatorSpec("Attention", domain="com.microsoft"), "'domain'"),
    (OperatorSpec("Attention", opset=22), "'opset'"),
    (OperatorSpec("Attention", q_heads=32, kv_heads=6), "'q_heads'/'kv_heads'"),
    (OperatorSpec("Attention", q_len=256, kv_len=128), "'q_len'/'kv_len'"),
    (OperatorSpec("Attention", head_size=0), "'head_size'"),
    (OperatorSpec("Attention", dtype="bfloat16"), "'dtype'"),
    (OperatorSpec("Attention", variant="sliding_window"), "'window'"),
    (OperatorSpec("MultiHeadAttention", q_heads=32, kv_heads=8), "'kv_heads'"),
])
def test_an_inconsistent_spec_names_its_field(spec: OperatorSpec, field: str) -> None:
    with pytest.raises(WorkloadError, match=field):
        validate_spec(spec)


def test_a_consistent_spec_passes_and_has_a_readable_name() -> None:
    spec = validate_spec(OperatorSpec("Attention", opset=23, q_len=1, kv_len=512))
    assert spec.name == "Attention23-causal-q32kv8-d64-s1x512-fp32"
    assert spec.flops() == 4.0 * 32 * 1 * 512 * 64


SMALL = {"q_heads": 4, "kv_heads": 2, "head_size": 16, "q_len": 8, "kv_len": 16}


def _run_ort(model, feeds):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def _run_openvino(model, feeds, dtype: str):
    import openvino as ov

    core = ov.Core()
    hint = {"INFERENCE_PRECISION_HINT": "f32" if dtype == "float32" else "f16"}
    return core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU", hint)(feeds)[0]


@pytest.mark.parametrize("operator", ["Attention", "MatMulSoftmaxMatMul", "FlexAttentionExpanded"])
@pytest.mark.parametrize("variant", ["causal", "sliding_window", "alibi", "softcap", "document"])
def test_standard_models_agree_with_the_reference_on_both_runtimes(operator: str, variant: str) -> None:
    from genai_harness.workloads.operators.build import agreement, build_model, make_inputs, reference_output

    spec = OperatorSpec(operator, variant=variant, window=4, softcap=5.0, **SMALL)
    model, feeds = build_model(spec), make_inputs(spec)
    want = reference_output(spec, feeds)
    for got in (_run_ort(model, feeds), _run_openvino(model, feeds, spec.dtype)):
        abs_err, _, within = agreement(spec, got, want)
        assert within, f"{spec.name}: max abs error {abs_err}"
    # the variant really changes the answer (a mask that does nothing would pass the check above)
    plain = OperatorSpec(operator, variant="plain", **SMALL)
    assert not agreement(spec, reference_output(plain, make_inputs(plain)), want)[2]


def test_multi_head_attention_is_checked_against_the_decomposed_reference() -> None:
    from genai_harness.workloads.operators.build import agreement, build_model, make_inputs, reference_output

    spec = OperatorSpec("MultiHeadAttention", q_heads=4, kv_heads=4, head_size=16, q_len=8, kv_len=16)
    feeds = make_inputs(spec)
    assert agreement(spec, _run_ort(build_model(spec), feeds), reference_output(spec, feeds))[2]


def test_flex_attention_itself_is_refused_by_onnxruntime_in_its_own_words() -> None:
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail

    from genai_harness.workloads.operators.build import build_model, make_inputs, reference_output

    spec = OperatorSpec("FlexAttention", **SMALL)
    model, feeds = build_model(spec), make_inputs(spec)
    assert reference_output(spec, feeds).shape == (1, 4, 8, 16)  # the reference runs it
    with pytest.raises(Fail, match="FlexAttention"):
        _run_ort(model, feeds)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_score_mod_whose_if_branches_read_the_scores_builds_checks_and_runs(tmp_path, dtype: str) -> None:
    """onnx's FlexAttention body renames the score_mod's input only at its top level; the expanded model still
    passes the full checker and runs on onnxruntime and OpenVINO, matching the reference."""
    import onnx

    from genai_harness.workloads.operators.build import agreement, build_model, make_inputs
    from genai_harness.workloads.operators.reference import shared_reference
    from genai_harness.workloads.operators.score_mod import from_file

    if_score_mod(tmp_path / "if_mod.onnx")
    mod = from_file(tmp_path / "if_mod.onnx")
    spec = OperatorSpec("FlexAttentionExpanded", variant="score_mod", score_mod=mod, dtype=dtype, **SMALL)
    model = build_model(spec)
    onnx.checker.check_model(model, full_check=True)
    assert any(n.op_type == "If" for n in model.graph.node)
    feeds, want = make_inputs(spec), shared_reference(spec)
    for got in (_run_ort(model, feeds), _run_openvino(model, feeds, dtype)):
        abs_err, _, within = agreement(spec, got, want)
        assert within, f"max abs error {abs_err}"
    plain = OperatorSpec("FlexAttentionExpanded", variant="plain", dtype=dtype, **SMALL)
    assert not agreement(spec, shared_reference(plain), want)[2]  # the If's branch changes the answer
