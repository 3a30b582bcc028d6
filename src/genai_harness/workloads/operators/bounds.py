"""Bounds on every operator spec field, and on the memory the runner allocates for a spec.

Both are checked by :func:`~genai_harness.workloads.operators.spec.validate_spec` before any model is built or
any input drawn, so ``q_heads = 100000`` or ``q_len = 1e9`` is one line naming the field (a WorkloadError,
exit 7), never a MemoryError or a machine brought to a halt. The bounds are wide enough for real models
(128 query heads, head size 256, million-token contexts, Gemma 2's soft-cap of 50); the memory budget is what
keeps a combination of them in check. docs/workloads.md lists them.
"""

from __future__ import annotations

import math
from typing import Any

import psutil

from genai_harness.errors import WorkloadError

MAX_LENGTH = 1 << 20
"""Longest ``q_len``, ``kv_len``, ``window`` and ``documents``: a million-token context."""
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "batch": (1, 256), "q_heads": (1, 256), "kv_heads": (1, 256), "head_size": (1, 1024),
    "q_len": (1, MAX_LENGTH), "kv_len": (1, MAX_LENGTH), "window": (0, MAX_LENGTH), "documents": (1, MAX_LENGTH),
}
"""Whole-number fields: (smallest, largest). ``window`` 0 means no window (only ``sliding_window`` uses one)."""
SOFTCAP_BOUNDS = (0.0, 10000.0)
"""``softcap``: finite, from 0 (not set) to 10,000; the ``softcap`` variant needs at least ``MIN_SOFTCAP``."""
MIN_SOFTCAP = 0.1
MEMORY_BUDGET_BYTES = 32 * 2**30
"""The most the runner may allocate for one spec (inputs, models, reference), and for what a suite keeps."""
MEMORY_SHARE = 0.75
"""... and at most this share of this machine's physical memory."""
GIB = 2**30
_F32 = 4


def memory_budget_bytes() -> int:
    """The budget here: ``MEMORY_BUDGET_BYTES`` or ``MEMORY_SHARE`` of physical memory, whichever is smaller."""
    return int(min(MEMORY_BUDGET_BYTES, MEMORY_SHARE * psutil.virtual_memory().total))


def shown(value: object) -> str:
    """``repr(value)``, cut to 40 characters (a field's value in a one-line error)."""
    if isinstance(value, int) and value.bit_length() > 128:  # repr of a huge int is long, or refused (4300 digits)
        return f"a {'negative ' if value < 0 else ''}number of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def check_field_bounds(spec: Any) -> None:
    """Raise a WorkloadError naming the first field of ``spec`` whose value has the wrong kind or is out of bounds."""
    for field, (low, high) in INT_BOUNDS.items():
        value = getattr(spec, field)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise WorkloadError(f"operator spec field {field!r}: must be a whole number from {low} to {high}, "
                                f"got {shown(value)}")
    value = spec.softcap
    low, high = SOFTCAP_BOUNDS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise WorkloadError(f"operator spec field 'softcap': must be a finite number from {low:g} to {high:g} "
                            f"(Gemma 2: 50.0), got {shown(value)}")


def _elements(spec: Any) -> dict[str, int]:
    b, hq, hkv, d, sq, skv = spec.batch, spec.q_heads, spec.kv_heads, spec.head_size, spec.q_len, spec.kv_len
    per_head = spec.variant == "alibi" or spec.operator == "MultiHeadAttention"
    return {"q": b * hq * sq * d, "kv": b * hkv * skv * d, "kv_repeated": b * hq * skv * d, "scores": b * hq * sq * skv,
            "bias": (hq if per_head else 1) * sq * skv}


REFERENCE_CHUNK_SCORES = 1 << 24
"""The most scores (float32) onnx's ReferenceEvaluator computes at once: the reference runs chunk by chunk over
batch, query heads and (past that) query rows, so it holds one chunk's score tensors (64 MiB each), not the whole
``batch x q_heads x q_len x kv_len`` of them (a 4096-token prefill of 32 heads: 2 GiB each)."""


def reference_chunk(spec: Any) -> tuple[int, int, int]:
    """(batch, query heads, query rows) of one chunk of ``spec``'s reference (:mod:`.reference`).

    Softmax is per query row and every query head attends to its own (repeated) K/V head, so the chunks are
    independent; a user's score_mod is chunked only when it is elementwise (``ScoreMod.elementwise``), otherwise
    the reference runs whole, as one chunk.
    """
    if spec.score_mod is not None and not spec.score_mod.elementwise:
        return spec.batch, spec.q_heads, spec.q_len
    per_head = spec.q_len * spec.kv_len
    if per_head <= REFERENCE_CHUNK_SCORES:
        return 1, min(spec.q_heads, REFERENCE_CHUNK_SCORES // per_head), spec.q_len
    return 1, 1, max(1, min(spec.q_len, REFERENCE_CHUNK_SCORES // spec.kv_len))


def planned_bytes(spec: Any) -> dict[str, int]:
    """What the runner allocates for ``spec``, by part, in bytes: an upper bound (measured against the real
    allocation in tests/workloads/test_operator_bounds.py).

    - ``inputs``: Q, K, V drawn in float32, cast to the dtype, cut into the operator's layout.
    - ``models``: the mask/bias constant of the model the runtime loads (float32 while made, then in the model,
      serialized, checked).
    - ``reference``: its float32 output and upcast Q, and one chunk's work (:func:`reference_chunk`): onnx's
      ReferenceEvaluator keeps every intermediate, so K and V repeated over the chunk's query heads, several
      score tensors of the chunk (float32), one more per score_mod node, and the chunk's bias.
    """
    n = _elements(spec)
    batch, heads, rows = reference_chunk(spec)
    chunk_scores, chunk_kv = batch * heads * rows * spec.kv_len, batch * heads * spec.kv_len * spec.head_size
    score_tensors = 8 + 3 + (spec.score_mod.nodes if spec.score_mod is not None else 0)  # 3: the chunk's bias
    return {"inputs": 10 * (n["q"] + 2 * n["kv"]),
            "models": 16 * n["bias"],
            "reference": _F32 * (score_tensors * chunk_scores + 2 * n["q"] + 4 * chunk_kv)}


DRAW_CACHE = 8
"""How many shapes' drawn float32 Q, K, V the runner keeps for reuse (``build._draw``'s cache)."""


def suite_bytes(specs: list[Any]) -> int:
    """What the runner holds at its peak over a suite: the largest spec's :func:`planned_bytes` and the cached
    drawn inputs (reference outputs are kept on disk, memory-mapped, until their cells have run)."""
    distinct = {spec.name: spec for spec in specs}.values()
    drawn = sorted({(s.batch, s.q_heads, s.kv_heads, s.q_len, s.kv_len, s.head_size): _F32 * (e["q"] + 2 * e["kv"])
                    for s in distinct for e in [_elements(s)]}.values())
    return max((sum(planned_bytes(s).values()) for s in distinct), default=0) + sum(drawn[-DRAW_CACHE:])


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB / 10 else f"{n / 2**20:.0f} MiB"


MAX_CONSTANT_BYTES = 2**31 - 2**20
"""The largest mask/bias constant a model may hold: a protobuf message (the whole ONNX model) is at most 2 GiB, and
onnx cannot even assemble a graph around a larger initializer."""


def constant_bytes(spec: Any) -> int:
    """The size of the mask/bias constant in ``spec``'s model (none for a user's score_mod): per head for ALiBi
    and MultiHeadAttention, in float32 inside FlexAttention's score_mod, else in the spec's dtype."""
    if spec.variant == "score_mod":
        return 0
    flex = spec.operator in ("FlexAttention", "FlexAttentionExpanded")
    return _elements(spec)["bias"] * (_F32 if spec.dtype == "float32" or flex else 2)


def check_memory(spec: Any) -> None:
    """Raise a WorkloadError naming the fields that size the largest part when ``spec`` is over the budget, or
    its model's mask/bias constant over protobuf's 2 GiB (the model could not be built)."""
    constant = constant_bytes(spec)
    if constant > MAX_CONSTANT_BYTES:
        raise WorkloadError(f"operator spec fields 'q_heads', 'q_len', 'kv_len': the model's mask/bias constant "
                            f"would be {_gib(constant)}, over the 2 GiB an ONNX model (a protobuf) can hold; make "
                            "them smaller (or use float16, or a variant whose mask is shared by the heads)")
    parts = planned_bytes(spec)
    total, budget = sum(parts.values()), memory_budget_bytes()
    if total <= budget:
        return
    largest = max(parts, key=parts.__getitem__)
    fields = {"inputs": "'batch', 'q_heads', 'kv_heads', 'q_len', 'kv_len', 'head_size'",
              "models": "'q_heads', 'q_len', 'kv_len'",
              "reference": "'batch', 'q_heads', 'q_len', 'kv_len'"}[largest]
    what = ", ".join(f"{k} {_gib(v)}" for k, v in parts.items())
    raise WorkloadError(f"operator spec fields {fields}: the runner would allocate about {_gib(total)} for this spec "
                        f"({what}), over its memory budget of {_gib(budget)} here; make them smaller")


def check_suite_memory(specs: list[Any], where: str) -> None:
    """Raise a WorkloadError when the specs of one suite together (:func:`suite_bytes`) are over the budget."""
    total, budget = suite_bytes(specs), memory_budget_bytes()
    if total > budget:
        raise WorkloadError(f"{where}: its {len(specs)} operator specs together would keep about {_gib(total)} in "
                            f"the runner (the largest spec's work and the drawn inputs it caches), over its memory "
                            f"budget of {_gib(budget)} here; split the suite or make fields 'batch', 'q_heads', "
                            "'q_len', 'head_size' smaller")
