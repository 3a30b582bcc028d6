"""Metric definitions, as pure functions of the clock readings the interface records.

One definition for every backend (DESIGN.md, "Metrics"):

- ttft_ms: generate called with text, to the first new token id (includes tokenization, prefill)
- tpot_ms: (t_last_token - t_first_token) / (n_new_tokens - 1)
- itl_p50_ms, itl_p90_ms: percentiles of inter-token latencies
- itl_by_position_ms (per cell): for each token position i, the median over repetitions of the gap between
  generated tokens i and i+1
- decode_tps: 1000 / tpot_ms; prefill_tps: n_input_tokens / (ttft_ms / 1000)
- e2e_ms: generate call to return
- image_ms: one call end to end; step_ms: median interval between denoising-step callbacks
- inference_ms: one classification batch; items_per_s: batch items per second
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

NS_PER_MS = 1_000_000


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    """The 50th percentile."""
    return percentile(values, 50.0)


def intervals_ms(stamps_ns: Sequence[int]) -> list[float]:
    """Differences between consecutive clock readings, in milliseconds."""
    return [(b - a) / NS_PER_MS for a, b in itertools.pairwise(stamps_ns)]


def text_metrics(start_ns: int, token_ns: Sequence[int], end_ns: int, n_input_tokens: int) -> dict[str, float | None]:
    """Every text2text metric of one generate call."""
    n = len(token_ns)
    if n == 0:
        raise ValueError("no token was generated")
    ttft = (token_ns[0] - start_ns) / NS_PER_MS
    itl = intervals_ms(token_ns)
    tpot = (token_ns[-1] - token_ns[0]) / NS_PER_MS / (n - 1) if n > 1 else None
    return {
        "ttft_ms": ttft,
        "tpot_ms": tpot,
        "itl_p50_ms": percentile(itl, 50) if itl else None,
        "itl_p90_ms": percentile(itl, 90) if itl else None,
        "decode_tps": 1000.0 / tpot if tpot else None,
        "prefill_tps": n_input_tokens / (ttft / 1000.0) if ttft > 0 else None,
        "e2e_ms": (end_ns - start_ns) / NS_PER_MS,
        "n_input_tokens": n_input_tokens,
        "n_new_tokens": n,
    }


def by_position_median(series: Sequence[Sequence[float]], digits: int = 4) -> list[float] | None:
    """Position by position, the median over ``series`` (one sequence per repetition), rounded (pure).

    Positions run to the shortest sequence's length, so every value has every repetition behind it;
    None when there is no position at all.
    """
    length = min((len(s) for s in series), default=0)
    if length == 0:
        return None
    return [round(median([s[i] for s in series]), digits) for i in range(length)]


def image_metrics(start_ns: int, step_ns: Sequence[int], end_ns: int) -> dict[str, float | None]:
    """Text-to-image metrics of one call."""
    steps = intervals_ms(step_ns)
    return {"image_ms": (end_ns - start_ns) / NS_PER_MS, "step_ms": median(steps) if steps else None}


def classification_metrics(start_ns: int, end_ns: int, batch_size: int) -> dict[str, float]:
    """Classification metrics of one batch."""
    ms = (end_ns - start_ns) / NS_PER_MS
    return {"inference_ms": ms, "items_per_s": batch_size / (ms / 1000.0) if ms > 0 else float("inf"),
            "batch_size": batch_size}



def spread(records: Sequence[dict[str, float | None]]) -> dict[str, dict[str, float]]:
    """Per metric of repeated calls: n, median, min and max (metrics a call lacks are left out; pure).

    Empty when there is no record (``generate`` without ``--repeat``)."""
    out: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(k for r in records for k in r):
        values = [float(v) for r in records if (v := r.get(name)) is not None]
        if values:
            out[name] = {"n": len(values), "median": median(values), "min": min(values), "max": max(values)}
    return out
