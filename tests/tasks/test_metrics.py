"""Metric definitions (DESIGN.md, "Metrics") from hand-made clock readings, and one cell timed by a fake clock."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from genai_harness.clock import FakeClock
from genai_harness.interface import Device
from genai_harness.tasks import timing as metrics
from genai_harness.worker.cell import run_cell
from genai_harness.worker.protocol import CellRequest, ModelRef
from genai_harness.workloads.spec import parse_workload

MS = 1_000_000  # ns


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


# ---- percentiles ---------------------------------------------------------------------------------------------------

def test_percentile_interpolates_linearly() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert metrics.percentile(values, 0) == 1.0
    assert metrics.percentile(values, 100) == 4.0
    assert metrics.percentile(values, 50) == approx(2.5)
    assert metrics.percentile(values, 25) == approx(1.75)
    assert metrics.percentile(values, 90) == approx(3.7)
    assert values == [4.0, 1.0, 3.0, 2.0], "the input must not be sorted in place"


@pytest.mark.parametrize("q", [0, 10, 50, 90, 100])
def test_percentile_of_one_value_is_that_value(q: float) -> None:
    assert metrics.percentile([7.5], q) == 7.5


def test_percentile_of_equal_values_and_two_values() -> None:
    assert metrics.percentile([3.0] * 9, 90) == 3.0
    assert metrics.percentile([10.0, 20.0], 50) == approx(15.0)
    assert metrics.percentile([10.0, 20.0], 90) == approx(19.0)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        metrics.percentile([], 50)
    with pytest.raises(ValueError):
        metrics.median([])


def test_median_odd_and_even() -> None:
    assert metrics.median([5.0, 1.0, 3.0]) == 3.0
    assert metrics.median([1.0, 2.0, 3.0, 10.0]) == approx(2.5)


def test_intervals_ms() -> None:
    assert metrics.intervals_ms([0, 2 * MS, 5 * MS, 5 * MS]) == [2.0, 3.0, 0.0]
    assert metrics.intervals_ms([3 * MS]) == []
    assert metrics.intervals_ms([]) == []


# ---- text2text ------------------------------------------------------------------------------------------------------

def test_text_metrics_follow_the_definitions() -> None:
    # generate called at 1000 ms; tokens at +10, +12, +15, +21 ms; returns at +25 ms; 100 prompt tokens.
    t0 = 1000 * MS
    got = metrics.text_metrics(t0, [t0 + 10 * MS, t0 + 12 * MS, t0 + 15 * MS, t0 + 21 * MS], t0 + 25 * MS, 100)
    tpot = (21 - 10) / (4 - 1)
    assert got["ttft_ms"] == approx(10.0)  # call to first token (tokenization and prefill included)
    assert got["tpot_ms"] == approx(tpot)  # (t_last - t_first) / (n - 1)
    assert got["itl_p50_ms"] == approx(3.0)  # inter-token latencies 2, 3, 6
    assert got["itl_p90_ms"] == approx(3.0 + 0.8 * (6.0 - 3.0))
    assert got["decode_tps"] == approx(1000.0 / tpot)
    assert got["prefill_tps"] == approx(100 / 0.010)
    assert got["e2e_ms"] == approx(25.0)
    assert got["n_input_tokens"] == 100 and got["n_new_tokens"] == 4


def test_text_metrics_with_steady_tokens() -> None:
    tokens = [(5 + 2 * i) * MS for i in range(32)]  # first at 5 ms, then one every 2 ms
    got = metrics.text_metrics(0, tokens, tokens[-1] + MS, 128)
    assert got["ttft_ms"] == approx(5.0)
    assert got["tpot_ms"] == approx(2.0) and got["itl_p50_ms"] == approx(2.0) and got["itl_p90_ms"] == approx(2.0)
    assert got["decode_tps"] == approx(500.0)
    assert got["prefill_tps"] == approx(128 / 0.005)
    assert got["e2e_ms"] == approx(5.0 + 62.0 + 1.0)


def test_text_metrics_of_one_token_have_no_decode_figures() -> None:
    got = metrics.text_metrics(0, [4 * MS], 6 * MS, 10)
    assert got["ttft_ms"] == approx(4.0) and got["e2e_ms"] == approx(6.0)
    assert got["tpot_ms"] is None and got["itl_p50_ms"] is None and got["itl_p90_ms"] is None
    assert got["decode_tps"] is None
    assert got["n_new_tokens"] == 1


def test_text_metrics_with_a_zero_clock_interval_do_not_divide_by_zero() -> None:
    got = metrics.text_metrics(0, [0, 0], 0, 10)
    assert got["ttft_ms"] == 0 and got["tpot_ms"] == 0
    assert got["prefill_tps"] is None and got["decode_tps"] is None


def test_text_metrics_need_a_token() -> None:
    with pytest.raises(ValueError, match="no token"):
        metrics.text_metrics(0, [], MS, 10)


# ---- text2image and classification ----------------------------------------------------------------------------------

def test_image_metrics() -> None:
    got = metrics.image_metrics(0, [10 * MS, 30 * MS, 60 * MS, 100 * MS], 120 * MS)
    assert got == {"image_ms": approx(120.0), "step_ms": approx(30.0)}  # median of 20, 30, 40
    even = metrics.image_metrics(0, [0, 10 * MS, 30 * MS, 60 * MS, 100 * MS], 100 * MS)
    assert even["step_ms"] == approx(25.0)  # median of 10, 20, 30, 40


@pytest.mark.parametrize("steps", [[], [5 * MS]])
def test_image_metrics_without_step_intervals(steps: list[int]) -> None:
    assert metrics.image_metrics(0, steps, 7 * MS) == {"image_ms": approx(7.0), "step_ms": None}


def test_classification_metrics() -> None:
    got = metrics.classification_metrics(3 * MS, 23 * MS, 8)
    assert got == {"inference_ms": approx(20.0), "items_per_s": approx(400.0), "batch_size": 8}
    assert metrics.classification_metrics(0, 250 * MS, 1)["items_per_s"] == approx(4.0)
    instant = metrics.classification_metrics(5, 5, 4)
    assert instant["inference_ms"] == 0 and math.isinf(instant["items_per_s"])


# ---- one cell, timed by an injected clock ---------------------------------------------------------------------------

def cell_request(tmp_path: Path, framework: str, task: str, inputs: dict, repetitions: int = 3) -> CellRequest:
    model = tmp_path / "ok"
    model.mkdir(exist_ok=True)
    workload = parse_workload({"id": "w", "version": 1, "task": task, "input": inputs,
                               "run": {"warmup": 2, "repetitions": repetitions}}, "inline")
    return CellRequest(framework, Device("CPU", framework=framework), workload, ModelRef(str(model), "m", "fake"))


def test_a_text_cell_is_timed_at_the_defined_points(tmp_path: Path, fake_backend: str) -> None:
    # Every clock reading advances 1 ms: load = 1 reading pair; each generate = start, one per token, end.
    request = cell_request(tmp_path, fake_backend, "text2text", {"prompt_tokens": 20, "new_tokens": 5})
    out = run_cell(request, clock=FakeClock(step_ns=MS))
    assert out.load_s == approx(0.001)
    assert out.actual_device == "CPU"
    reps = out.repetitions
    assert len(reps) == 3  # the 2 warm-up calls are not returned
    for rep in reps:
        assert rep["ttft_ms"] == approx(1.0) and rep["tpot_ms"] == approx(1.0)
        assert rep["itl_p50_ms"] == approx(1.0) and rep["itl_p90_ms"] == approx(1.0)
        assert rep["decode_tps"] == approx(1000.0) and rep["prefill_tps"] == approx(20_000.0)
        assert rep["e2e_ms"] == approx(6.0)  # start, 5 tokens, end
        assert rep["n_input_tokens"] == 20 and rep["n_new_tokens"] == 5
        assert rep["native_metrics"] == {"fake_native_tokens": 5}


def test_image_and_classification_cells_are_timed(tmp_path: Path, fake_backend: str) -> None:
    image = run_cell(cell_request(tmp_path, fake_backend, "text2image", {"width": 16, "height": 8, "steps": 4}, 2),
                     clock=FakeClock(step_ns=MS))
    assert len(image.repetitions) == 2
    for rep in image.repetitions:
        assert rep["image_ms"] == approx(5.0) and rep["step_ms"] == approx(1.0)  # start, 4 steps, end
    classify = run_cell(cell_request(tmp_path, fake_backend, "classification", {"batch_size": 4}),
                        clock=FakeClock(step_ns=2 * MS))
    for rep in classify.repetitions:
        assert rep["inference_ms"] == approx(2.0) and rep["items_per_s"] == approx(2000.0) and rep["batch_size"] == 4


def test_gaps_by_position_are_medians_over_repetitions() -> None:
    assert metrics.by_position_median([[1.0, 5.0, 2.0], [3.0, 1.0, 2.0], [2.0, 3.0, 9.0]]) == [2.0, 3.0, 2.0]
    # positions run to the shortest repetition: every value has every repetition behind it
    assert metrics.by_position_median([[1.0, 2.0], [3.0]]) == [2.0]
    assert metrics.by_position_median([]) is None and metrics.by_position_median([[]]) is None
    assert metrics.by_position_median([[1.23456789]]) == [1.2346]
