"""The attention suites: ``attention`` (within 3 minutes on a 2-core machine) and ``attention-full``."""

from __future__ import annotations

from genai_harness.workloads.operators.spec import OperatorSpec

_OPS = [("Attention", {"opset": 23}), ("Attention", {"opset": 24}), ("MatMulSoftmaxMatMul", {}),
        ("FlexAttention", {}), ("FlexAttentionExpanded", {}), ("MultiHeadAttention", {"kv_heads": 32})]
_VARIANTS = {"causal": {}, "sliding_window": {"window": 64}, "alibi": {}, "softcap": {"softcap": 50.0},
             "document": {"documents": 2}}


def _grid(shapes: list[dict], dtypes: tuple[str, ...]) -> list[OperatorSpec]:
    specs = []
    for op, op_kw in _OPS:
        for variant, v_kw in _VARIANTS.items():
            if op == "MultiHeadAttention" and variant == "softcap":
                continue  # no soft-capping in MultiHeadAttention
            for shape in shapes:
                for dtype in dtypes:
                    specs.append(OperatorSpec(op, variant=variant, dtype=dtype, **{**shape, **op_kw, **v_kw}))
    return specs


def attention_suite() -> list[OperatorSpec]:
    """Every operator and variant at prefill 128, plus causal decode 1 x 512; head size 64, 32 query / 8 KV
    heads, fp32 (sized to finish within 3 minutes on a 2-core machine)."""
    decode = [s for s in _grid([{"q_len": 1, "kv_len": 512}], ("float32",)) if s.variant == "causal"]
    return _grid([{"q_len": 128, "kv_len": 128}], ("float32",)) + decode


def attention_full_suite() -> list[OperatorSpec]:
    """Head size 64 and 128, prefill 128 to 4096 and decode against 4096, fp32 and fp16 (long)."""
    shapes = [{"q_len": s, "kv_len": s, "head_size": d} for s in (128, 1024, 4096) for d in (64, 128)]
    shapes += [{"q_len": 1, "kv_len": 4096, "head_size": d} for d in (64, 128)]
    return _grid(shapes, ("float32", "float16"))


SUITES = {"attention": attention_suite, "attention-full": attention_full_suite}
