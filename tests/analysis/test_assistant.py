"""The client-assistant score: geometric mean over categories of the per-category medians (pure)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from genai_harness.analysis.assistant import assistant_scores, assistant_table


def _row(workload: str, ttft: float, decode: float, *, model: str = "m", status: str = "ok",
         precision: str = "f32") -> dict:
    return {"workload_id": workload, "ttft_ms": ttft, "decode_tps": decode, "status": status, "model_id": model,
            "framework": "onnxruntime_genai", "device": "CPU", "environment": "default", "precision": precision}


def test_score_is_the_geometric_mean_of_category_medians() -> None:
    rows = [_row("assistant-code", 10, 100), _row("assistant-code", 30, 300), _row("assistant-code", 20, 200),
            _row("assistant-json", 40, 50), _row("chat-p128-g256", 1, 1), _row("assistant-json", 1, 1, status="failed")]
    (score,) = assistant_scores(rows)
    assert score.categories == {"code": (20, 200), "json": (40, 50)}
    assert math.isclose(score.ttft_gmean_ms, math.sqrt(20 * 40))
    assert math.isclose(score.decode_gmean_tps, math.sqrt(200 * 50))
    table = assistant_table([score])
    assert table[0][2].startswith("overall (2 categories") and [r[2].strip() for r in table[1:]] == ["code", "json"]


def test_targets_and_models_are_scored_apart() -> None:
    rows = [_row("assistant-a", 10, 10), _row("assistant-a", 20, 20, model="n"),
            _row("assistant-a", 30, 30, precision="bf16")]
    scored = sorted((s.model_id, round(s.ttft_gmean_ms, 6)) for s in assistant_scores(rows))
    assert scored == [("m", 10), ("m", 30), ("n", 20)]
    assert assistant_scores([_row("text-p128-g32", 1, 1)]) == []


@given(st.lists(st.tuples(st.floats(0.1, 1e4), st.floats(0.1, 1e4)), min_size=1, max_size=6))
def test_score_lies_between_the_best_and_worst_category(values: list[tuple[float, float]]) -> None:
    rows = [_row(f"assistant-c{i}", t, d) for i, (t, d) in enumerate(values)]
    (score,) = assistant_scores(rows)
    ttfts, decodes = [t for t, _ in values], [d for _, d in values]
    assert min(ttfts) * (1 - 1e-9) <= score.ttft_gmean_ms <= max(ttfts) * (1 + 1e-9)
    assert min(decodes) * (1 - 1e-9) <= score.decode_gmean_tps <= max(decodes) * (1 + 1e-9)
