"""The three precisions' pure logic: labels of weight schemes, the compute precision of an ONNX model, KV-cache
words, a refusal's advice and the table's short form (real models: test_weight_precision_real.py)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from genai_harness.analysis.keys import short_weight_precision
from genai_harness.backends import numerics as nx
from genai_harness.backends.weight_precision import Scheme, WeightPrecision

INT4 = Scheme("int4", False, 32, "MatMulNBits")
F32 = Scheme("float32")


def test_a_mixed_model_names_its_dominant_scheme_and_the_shares() -> None:
    weights = WeightPrecision(Counter({INT4: 760, F32: 240}), group_word="block")
    assert weights.precision == "int4"
    assert weights.label() == "int4 asym, block 32 (MatMulNBits), 76% of weights; float32 24%"
    assert WeightPrecision(Counter({F32: 10})).label() == "float32"
    assert WeightPrecision().label() is None and WeightPrecision().precision is None
    per_channel = WeightPrecision(Counter({Scheme("int8", True, None, "i8"): 1}))
    assert per_channel.label() == "int8 sym, per channel (i8)"
    assert weights.to_dict()["schemes"][0] == {"precision": "int4", "symmetric": False, "block": 32,
                                               "storage": "MatMulNBits", "elements": 760, "share": 0.76}


def test_the_compute_precision_of_an_onnx_model() -> None:
    """MatMulNBits computes at its accuracy_level; otherwise the activations' float type."""
    int4 = WeightPrecision(Counter({INT4: 760, F32: 240}), extra={"accuracy_level": 4})
    assert nx.onnx_compute_precision(int4, {"past_key_values.0.key": "f32"}) == "int8"
    for level, word in ((0, "f32"), (1, "f32"), (2, "f16"), (3, "bf16")):
        int4.extra["accuracy_level"] = level
        expected = word if level else "f32"
        assert nx.onnx_compute_precision(int4, {"input_ids": "i64", "past_key_values.0.key": "f32"}) == expected
    half = WeightPrecision(Counter({Scheme("float16"): 100, F32: 1}))
    assert nx.onnx_compute_precision(half, {"x": "f16"}) == "f16"
    assert nx.onnx_compute_precision(half, {}) == "f16"
    assert nx.onnx_compute_precision(WeightPrecision(), {}) is None


def test_kv_cache_words_keep_integer_types_exact() -> None:
    assert nx.kv_cache_word("<Type: 'uint8_t'>") == "u8" and nx.kv_cache_word("u8") == "u8"
    assert nx.kv_cache_word("float16") == "f16" and nx.kv_cache_word("<Type: 'bfloat16'>") == "bf16"
    assert nx.kv_cache_word("i8") == "i8" and nx.kv_cache_word(None) is None and nx.kv_cache_word("") is None


def test_a_refusal_advises_only_what_precision_accepts() -> None:
    assert nx.advice("int8") == "precision default or int8"
    assert nx.advice("f32") == "precision default or f32"
    assert nx.advice("int4") == nx.advice(None) == nx.advice("fp8") == "precision default"
    assert "int8" in nx.PRECISIONS and nx.check_precision("int8") == "int8"


@given(st.text(max_size=80))
def test_the_short_form_never_fails_and_keeps_what_it_does_not_know(text: str) -> None:
    short = short_weight_precision(text)
    assert isinstance(short, str) and len(short) <= max(len(text), 20)
    if not text[:1].isalpha() or not any(text.startswith(p) for p in ("int", "uint", "float", "bfloat", "fp", "nf")):
        assert short == text


def test_the_short_form_of_each_runtimes_label() -> None:
    assert short_weight_precision("int4 asym, block 32 (MatMulNBits), 76% of weights; float32 24%") == "int4 asym b32"
    assert short_weight_precision("int4 sym, group 128 (i4)") == "int4 sym g128"
    assert short_weight_precision("int8 sym, per channel (i8)") == "int8 sym"
    assert short_weight_precision("float32") == "float32"
