"""An attention operator spec: which operator, which shapes, dtype and masking variant.

Validated before any cell runs: a bad field raises :class:`~genai_harness.errors.WorkloadError`
naming the field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from genai_harness.errors import WorkloadError
from genai_harness.workloads.operators.bounds import MIN_SOFTCAP, check_field_bounds, check_memory, shown
from genai_harness.workloads.operators.score_mod import ScoreMod

# operator name -> (domain, opsets it can be built at)
OPERATORS: dict[str, tuple[str, tuple[int, ...]]] = {
    "Attention": ("", (23, 24)),
    "MultiHeadAttention": ("com.microsoft", (1,)),
    "GroupQueryAttention": ("com.microsoft", (1,)),
    "MatMulSoftmaxMatMul": ("", (21,)),
    "FlexAttention": ("ai.onnx.preview", (1,)),
    "FlexAttentionExpanded": ("ai.onnx.preview", (1,)),
}
OPERATOR_TASK = "operator"
"""The ``task`` of an operator suite's rows (not a task of the common interface; they share the store)."""
VARIANTS = ("plain", "causal", "sliding_window", "alibi", "softcap", "document", "score_mod")
# FlexAttention (itself and expanded) takes a user's score_mod; the other builders express variants natively.
SCORE_MOD_OPERATORS = ("FlexAttention", "FlexAttentionExpanded")
DTYPES = ("float32", "float16")
MAX_OPERATOR_REPETITIONS = 1000
MIN_REPETITIONS = 3
# Agreement with onnx's ReferenceEvaluator: (absolute, relative) tolerance per dtype.
TOLERANCE: dict[str, tuple[float, float]] = {"float32": (1e-4, 1e-3), "float16": (1e-2, 1e-2)}


@dataclass(frozen=True)
class OperatorSpec:
    """One attention cell: ``q_len`` queries attend to ``kv_len`` keys (decode: ``q_len`` 1)."""

    operator: str
    q_heads: int = 32
    kv_heads: int = 8
    head_size: int = 64
    q_len: int = 128
    kv_len: int = 128
    batch: int = 1
    dtype: str = "float32"
    variant: str = "causal"
    domain: str | None = None
    opset: int | None = None
    window: int = 0
    softcap: float = 0.0
    documents: int = 2
    packed_qkv: bool = False
    """GroupQueryAttention only: one packed ``QKV`` input instead of separate query, key and value."""
    score_mod: ScoreMod | None = None
    """The ``score_mod`` variant only: the user's score modifier (see :mod:`.score_mod`)."""
    repetitions: int = 10
    """Measured runs of the cell (one row each), after ``warmup`` unrecorded ones."""
    warmup: int = 2
    max_time_s: float = 0.5
    """Warm-up and measuring stop early once they have taken this long, with at least
    ``MIN_REPETITIONS`` measured runs (a slow operator is timed a few times, not ten)."""

    @property
    def resolved_domain(self) -> str:
        """The operator's domain (the spec's own when given)."""
        return self.domain if self.domain is not None else OPERATORS[self.operator][0]

    @property
    def resolved_opset(self) -> int:
        """The opset the model is built at (the operator's newest when not given)."""
        return self.opset if self.opset is not None else OPERATORS[self.operator][1][-1]

    @property
    def name(self) -> str:
        """A stable, readable workload name, e.g. ``Attention24-causal-q32kv8-d64-s128x128-fp32``; the variant's
        own value is part of it (``sliding_window.w64``, ``softcap.c50``, ``document.n2``), and a batch above 1
        (``-b4``), so specs that differ only there are different workloads."""
        op = f"{self.operator}{self.resolved_opset}" if self.operator == "Attention" else self.operator
        dt = {"float32": "fp32", "float16": "fp16"}.get(self.dtype, self.dtype)
        variant = {"score_mod": f"score_mod.{self.score_mod.name}" if self.score_mod else "score_mod",
                   "sliding_window": f"sliding_window.w{self.window}", "softcap": f"softcap.c{_number(self.softcap)}",
                   "document": f"document.n{self.documents}"}.get(self.variant, self.variant)
        packed = "-packed" if self.packed_qkv else ""
        batch = f"-b{self.batch}" if self.batch != 1 else ""
        return (f"{op}{packed}-{variant}-q{self.q_heads}kv{self.kv_heads}-d{self.head_size}"
                f"-s{self.q_len}x{self.kv_len}{batch}-{dt}")

    def flops(self) -> float:
        """Floating-point operations of the two matmuls (2*B*Hq*Sq*Skv*D each)."""
        return 4.0 * self.batch * self.q_heads * self.q_len * self.kv_len * self.head_size


def _number(value: float) -> str:
    """``value`` short (50.0 -> ``50``) and exact (two caps that differ read differently)."""
    try:
        short = f"{value:g}"
        return short if float(short) == value else repr(float(value))
    except (OverflowError, TypeError, ValueError):  # a spec not validated yet: any value still names itself
        return shown(value)


def validate_spec(spec: OperatorSpec) -> OperatorSpec:
    """Return ``spec`` when consistent and within bounds (:mod:`.bounds`: every field, then the memory the runner
    would allocate for it); otherwise raise a WorkloadError naming the field and the fix. Nothing is allocated."""
    if not isinstance(spec.operator, str) or spec.operator not in OPERATORS:
        raise WorkloadError(f"operator spec field 'operator': unknown operator {shown(spec.operator)}; "
                            f"use one of {', '.join(OPERATORS)}")
    domain, opsets = OPERATORS[spec.operator]
    if spec.domain is not None and spec.domain != domain:
        raise WorkloadError(f"operator spec field 'domain': {spec.operator} lives in domain "
                            f"{domain or 'ai.onnx'!r}, not {shown(spec.domain)}; drop the field or fix it")
    if spec.opset is not None and (isinstance(spec.opset, bool) or spec.opset not in opsets):
        raise WorkloadError(f"operator spec field 'opset': {spec.operator} is built at opset "
                            f"{', '.join(map(str, opsets))}, not {shown(spec.opset)}")
    if spec.dtype not in DTYPES:
        raise WorkloadError(f"operator spec field 'dtype': {shown(spec.dtype)} is not one of {', '.join(DTYPES)}")
    if spec.variant not in VARIANTS:
        raise WorkloadError(f"operator spec field 'variant': {shown(spec.variant)} is not one of "
                            f"{', '.join(VARIANTS)}")
    check_field_bounds(spec)
    if spec.q_heads % spec.kv_heads:
        raise WorkloadError(f"operator spec fields 'q_heads'/'kv_heads': {spec.q_heads} query heads cannot be "
                            f"grouped over {spec.kv_heads} KV heads; q_heads must be a multiple of kv_heads")
    if spec.operator == "MultiHeadAttention" and spec.q_heads != spec.kv_heads:
        raise WorkloadError("operator spec field 'kv_heads': MultiHeadAttention has no grouped heads; "
                            f"set kv_heads equal to q_heads ({spec.q_heads})")
    if spec.q_len > spec.kv_len:
        raise WorkloadError(f"operator spec fields 'q_len'/'kv_len': {spec.q_len} queries against {spec.kv_len} "
                            "keys; the queries are the last q_len positions, so q_len must be <= kv_len")
    if spec.variant == "sliding_window" and spec.window < 1:
        raise WorkloadError("operator spec field 'window': the sliding_window variant needs window >= 1")
    if spec.variant == "softcap" and spec.softcap < MIN_SOFTCAP:
        raise WorkloadError(f"operator spec field 'softcap': the softcap variant needs softcap >= {MIN_SOFTCAP:g} "
                            "(Gemma 2: 50.0)")
    if spec.variant == "document" and not 1 <= spec.documents <= spec.kv_len:
        raise WorkloadError(f"operator spec field 'documents': must be between 1 and kv_len ({spec.kv_len})")
    if not isinstance(spec.packed_qkv, bool):
        raise WorkloadError(f"operator spec field 'packed_qkv': must be true or false, got {shown(spec.packed_qkv)}")
    if spec.packed_qkv and spec.operator != "GroupQueryAttention":
        raise WorkloadError(f"operator spec field 'packed_qkv': only GroupQueryAttention takes a packed QKV input, "
                            f"not {spec.operator}; drop the field")
    if spec.packed_qkv and spec.q_len != spec.kv_len:
        raise WorkloadError("operator spec field 'packed_qkv': a packed QKV input carries the new tokens only; "
                            "use it for prefill (q_len == kv_len) or drop the field")
    if spec.operator == "MultiHeadAttention" and spec.variant == "softcap":
        raise WorkloadError("operator spec field 'variant': MultiHeadAttention has no soft-capping; "
                            "choose another variant")
    if (spec.variant == "score_mod") != (spec.score_mod is not None):
        raise WorkloadError("operator spec field 'score_mod': the score_mod variant needs a score_mod "
                            "(an ONNX graph file or an expression list), and only that variant takes one")
    if spec.score_mod is not None and spec.operator not in SCORE_MOD_OPERATORS:
        raise WorkloadError(f"operator spec field 'score_mod': {spec.operator} takes no user score_mod; use "
                            f"{' or '.join(SCORE_MOD_OPERATORS)}")
    if isinstance(spec.max_time_s, bool) or not isinstance(spec.max_time_s, (int, float)) \
            or not 0 < spec.max_time_s <= 3600:
        raise WorkloadError(f"operator spec field 'max_time_s': must be a number of seconds above 0 and at most "
                            f"3600, got {shown(spec.max_time_s)}")
    for field, low in (("repetitions", 1), ("warmup", 0)):
        value = getattr(spec, field)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_OPERATOR_REPETITIONS:
            raise WorkloadError(f"operator spec field {field!r}: must be a whole number from {low} to "
                                f"{MAX_OPERATOR_REPETITIONS}, got {shown(value)}")
    check_memory(spec)
    return spec
