"""The attention suites (``attention``: within 3 minutes on a 2-core machine; ``attention-full``) and
operator suite files.

An operator suite file is TOML with ``[[operators]]`` tables, each an :class:`OperatorSpec` by field name;
an optional ``[defaults]`` table applies to every one::

    id = "my-attention"
    [defaults]
    q_heads = 32
    kv_heads = 8
    [[operators]]
    operator = "FlexAttention"
    variant = "score_mod"
    score_mod = ["div 30", "tanh", "mul 30"]     # or "my_mod.onnx", relative to this file
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from genai_harness.errors import WorkloadError
from genai_harness.workloads.operators import score_mod as sm
from genai_harness.workloads.operators.bounds import MAX_CONSTANT_BYTES, check_suite_memory, constant_bytes
from genai_harness.workloads.operators.spec import OperatorSpec, validate_spec
from genai_harness.workloads.spec import read_toml

_OPS = [("Attention", {"opset": 23}), ("Attention", {"opset": 24}), ("MatMulSoftmaxMatMul", {}),
        ("FlexAttention", {}), ("FlexAttentionExpanded", {}), ("MultiHeadAttention", {"kv_heads": 32}),
        ("GroupQueryAttention", {})]
_VARIANTS = {"causal": {}, "sliding_window": {"window": 64}, "alibi": {}, "softcap": {"softcap": 50.0},
             "document": {"documents": 2}}


def _grid(shapes: list[dict], dtypes: tuple[str, ...], variants: tuple[str, ...] = tuple(_VARIANTS)
          ) -> list[OperatorSpec]:
    specs = []
    for op, op_kw in _OPS:
        for variant in variants:
            if op == "MultiHeadAttention" and variant == "softcap":
                continue  # no soft-capping in MultiHeadAttention
            for shape in shapes:
                for dtype in dtypes:
                    specs.append(OperatorSpec(op, variant=variant, dtype=dtype,
                                              **{**shape, **op_kw, **_VARIANTS[variant]}))
    return specs


def attention_suite() -> list[OperatorSpec]:
    """32 query / 8 KV heads. Every operator and variant at prefill 128 (head size 64, fp32); causal prefill 128
    in fp16; packed-QKV GroupQueryAttention; causal decode of one token against a KV length of 512, and against
    4096 (fp32 at head size 64, fp16 at head size 128). The long shape is a decode against a 4096 KV cache, not a
    4096 prefill: that costs minutes per target on 2 cores (it is in ``attention-full``)."""
    specs = _grid([{"q_len": 128, "kv_len": 128}], ("float32",))
    specs += _grid([{"q_len": 128, "kv_len": 128}], ("float16",), ("causal",))
    specs += [OperatorSpec("GroupQueryAttention", packed_qkv=True, q_len=128, kv_len=128, dtype=dt)
              for dt in ("float32", "float16")]
    specs += _grid([{"q_len": 1, "kv_len": 512}], ("float32",), ("causal",))
    specs += _grid([{"q_len": 1, "kv_len": 4096, "head_size": 64}], ("float32",), ("causal",))
    specs += _grid([{"q_len": 1, "kv_len": 4096, "head_size": 128}], ("float16",), ("causal",))
    return specs


def attention_full_suite() -> list[OperatorSpec]:
    """Head size 64 and 128, prefill 128 to 4096 and decode against 4096, fp32 and fp16 (long: hours here).

    Less the 24 specs of the 4096 prefill whose per-head mask (32 x 4096 x 4096 in float32: ALiBi in fp32, and in
    FlexAttention's float32 score_mod; MultiHeadAttention's bias in fp32) is 2 GiB, more than an ONNX model can
    hold (:data:`~.bounds.MAX_CONSTANT_BYTES`): their fp16 twins (1 GiB) stay."""
    shapes = [{"q_len": s, "kv_len": s, "head_size": d, **({"repetitions": 3, "warmup": 1} if s >= 1024 else {})}
              for s in (128, 1024, 4096) for d in (64, 128)]
    shapes += [{"q_len": 1, "kv_len": 4096, "head_size": d} for d in (64, 128)]
    return [spec for spec in _grid(shapes, ("float32", "float16")) if constant_bytes(spec) <= MAX_CONSTANT_BYTES]


SUITES = {"attention": attention_suite, "attention-full": attention_full_suite}
_FIELDS = {f.name for f in dataclasses.fields(OperatorSpec)}
_KINDS: dict[str, Any] = {
    **{f: int for f in ("q_heads", "kv_heads", "head_size", "q_len", "kv_len", "batch", "opset", "window",
                        "documents", "repetitions", "warmup")},
    **{f: str for f in ("operator", "dtype", "variant", "domain")},
    "softcap": (int, float), "max_time_s": (int, float), "packed_qkv": bool,
}
_KIND_WORDS = {int: "a whole number", str: "a string", bool: "true or false", (int, float): "a number"}


def _spec_from_table(table: Any, where: str, base: Path) -> OperatorSpec:
    if not isinstance(table, dict):
        raise WorkloadError(f"{where}: must be a table of operator spec fields")
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise WorkloadError(f"{where}: unknown operator spec field {unknown[0]!r}; "
                            f"fields: {', '.join(sorted(_FIELDS))}")
    if "operator" not in table:
        raise WorkloadError(f"{where}: operator spec field 'operator' is missing")
    fields = dict(table)
    for name, value in fields.items():
        want = _KINDS.get(name)
        if want and (isinstance(value, bool) != (want is bool) or not isinstance(value, want)):
            raise WorkloadError(f"{where}: operator spec field {name!r} must be "
                                f"{_KIND_WORDS[want]}, got {value!r}")
    mod = fields.get("score_mod")
    try:
        if isinstance(mod, str):
            fields["score_mod"] = sm.from_file(Path(mod) if Path(mod).is_absolute() else base / mod)
        elif mod is not None:
            fields["score_mod"] = sm.from_expression(mod)
    except WorkloadError as exc:
        raise WorkloadError(f"{where}: {exc}") from None
    try:
        spec = OperatorSpec(**fields)
    except TypeError as exc:
        raise WorkloadError(f"{where}: {exc}") from None
    try:
        return validate_spec(spec)
    except WorkloadError as exc:
        raise WorkloadError(f"{where}: {exc}") from None


def load_operator_suite(name_or_path: str) -> tuple[str, list[OperatorSpec]] | None:
    """(suite id, its specs, all validated) for a shipped operator suite or an operator suite file; None when
    ``name_or_path`` is neither (then it is an ordinary suite)."""
    if name_or_path in SUITES:
        specs = SUITES[name_or_path]()
        for spec in specs:
            try:
                validate_spec(spec)
            except WorkloadError as exc:
                raise WorkloadError(f"suite {name_or_path}, {spec.name}: {exc}") from None
        check_suite_memory(specs, f"suite {name_or_path}")
        return name_or_path, specs
    path = Path(name_or_path)
    if path.suffix != ".toml" or not path.is_file():
        return None
    data = read_toml(path, "suite file")
    if "operators" not in data:
        return None
    tables = data["operators"]
    if not isinstance(tables, list) or not tables:
        raise WorkloadError(f"{path}: needs at least one [[operators]] table")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise WorkloadError(f"{path}: [defaults] must be a table of operator spec fields")
    specs = [_spec_from_table({**defaults, **t} if isinstance(t, dict) else t, f"{path} [[operators]] #{i + 1}",
                              path.parent) for i, t in enumerate(tables)]
    names = [s.name for s in specs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise WorkloadError(f"{path}: two [[operators]] tables describe the same cell {dup!r}; remove one")
    check_suite_memory(specs, str(path))
    return str(data.get("id", path.stem)), specs
