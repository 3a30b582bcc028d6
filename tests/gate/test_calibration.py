"""The calibration kernel as a covariate (gate.calibration): rows of known values, deterministic at any load.

Each run has a machine state (how slow the machine was while it ran) that stretches every cell of the run and the
kernel alike; a runtime slowdown stretches the cells only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_cli
from support.gate_rows import CELL, write_store

from genai_harness.errors import GATE_INCONCLUSIVE_EXIT
from genai_harness.gate.calibration import adjust_cells, adjust_side, fit_slope, kernel_centre, leverage
from genai_harness.gate.compare import compare_frames

CELLS = (("onnxruntime_genai", "w1", 10.0), ("openvino.genai", "w1", 14.0), ("onnxruntime_genai", "w2", 25.0),
         ("openvino.genai", "w2", 31.0))


def runs(prefix: str, machine: list[float], *, slowdown: float = 1.0, kernel: list[float] | None = None,
         seed: int = 0, jitter: float = 0.01) -> pd.DataFrame:
    """Runs of four cells: cell value = base x machine[run] x slowdown x small noise; calib_ms = 10 x kernel[run]
    (the machine's state unless given), five repetitions each."""
    rng = np.random.default_rng(seed)
    kernel = machine if kernel is None else kernel
    rows = []
    for k, (state, speed) in enumerate(zip(machine, kernel, strict=True)):
        for framework, workload, base in CELLS:
            level = base * state * slowdown * math.exp(rng.normal(0, jitter))
            calib = 10.0 * speed * math.exp(rng.normal(0, jitter / 2))
            rows += [{**CELL, "framework": framework, "workload_id": workload, "run_id": f"{prefix}{k}",
                      "repetition": i, "ttft_ms": level * (1 + 0.002 * i), "calib_ms": calib} for i in range(5)]
    return pd.DataFrame(rows)


BASE_MACHINE = [1.0, 1.6, 0.8, 2.4, 1.1]
CUR_MACHINE = [1.9, 0.9, 1.3, 1.0, 2.8]


def judged(baseline: pd.DataFrame, current: pd.DataFrame, calibrate: bool) -> pd.DataFrame:
    return compare_frames(baseline, current, metrics=["ttft_ms"], calibrate=calibrate)


def test_a_factor_common_to_every_cell_of_a_run_is_removed() -> None:
    base, cur = runs("a", BASE_MACHINE, seed=1), runs("b", CUR_MACHINE, seed=2)
    raw, adjusted = judged(base, cur, False), judged(base, cur, True)
    assert not raw["verdict"].eq("equivalent").any()  # runs 0.8-2.8x apart: nothing shown on raw times
    assert adjusted["verdict"].eq("equivalent").all()  # the machine's part removed: shown unchanged
    assert adjusted["tested_on"].str.contains("adjusted for machine speed \\(kernel, slope 1.0").all()
    assert ((adjusted["ratio_ci_high"] / adjusted["ratio_ci_low"]) < 1.05).all()
    # the current side on a machine twice as slow throughout: raw times show a 2x "regression"; the kernel explains it
    slow_machine = runs("c", [2 * m for m in BASE_MACHINE[::-1]], seed=3)
    assert judged(base, slow_machine, False)["slowdown"].gt(1.5).all()
    assert judged(base, slow_machine, True)["verdict"].eq("equivalent").all()


@pytest.mark.parametrize("factor", [1.25, 1.5])
def test_a_slowdown_of_the_runtime_alone_is_kept(factor: float) -> None:
    base, cur = runs("a", BASE_MACHINE, seed=4), runs("b", CUR_MACHINE, slowdown=factor, seed=5)
    adjusted = judged(base, cur, True)
    assert adjusted["ratio"].to_numpy() == pytest.approx(factor, rel=0.02)
    assert adjusted["verdict"].eq("regression").all()
    assert not judged(base, cur, False)["verdict"].isin(["regression", "equivalent"]).any()  # raw: not shown


def test_a_kernel_that_explains_nothing_changes_nothing() -> None:
    rng = np.random.default_rng(6)
    unrelated = list(np.exp(rng.normal(0, 0.4, 10)))
    base = runs("a", BASE_MACHINE, kernel=unrelated[:5], seed=7, jitter=0.2)
    cur = runs("b", CUR_MACHINE, kernel=unrelated[5:], seed=8, jitter=0.2)
    raw, adjusted = judged(base, cur, False), judged(base, cur, True)
    assert not adjusted["tested_on"].str.contains("adjusted").any()
    pd.testing.assert_frame_equal(raw, adjusted)


def test_rows_without_a_kernel_are_judged_as_before() -> None:
    base, cur = runs("a", BASE_MACHINE, seed=9), runs("b", CUR_MACHINE, seed=10)
    older = cur.assign(calib_ms=np.where(cur["run_id"] == "b0", np.nan, cur["calib_ms"]))  # one run lacks it
    pd.testing.assert_frame_equal(judged(base, older, True), judged(base, older, False))
    pd.testing.assert_frame_equal(judged(base.drop(columns="calib_ms"), cur, True), judged(base, cur, False))


def side(prefix: str, logs: list[float]) -> dict[str, float]:
    return {f"{prefix}{k}": v for k, v in enumerate(logs)}


def test_the_slope_is_fitted_within_sides_and_used_only_when_positive_and_significant() -> None:
    x_b, x_c = [0.0, 0.3, -0.2, 0.5], [0.1, -0.1, 0.4, 0.2]
    cell = (side("a", [2 + 0.8 * x for x in x_b]), side("a", x_b), side("b", [3 + 0.8 * x for x in x_c]),
            side("b", x_c))
    fit = fit_slope([cell])
    assert fit.used and fit.slope == pytest.approx(0.8) and fit.df == 5  # 8 runs, 2 side means, 1 slope
    negative = (side("a", [2 - 0.8 * x for x in x_b]), cell[1], side("b", [3 - 0.8 * x for x in x_c]), cell[3])
    assert not fit_slope([negative]).used
    assert not fit_slope([(side("a", [1.0]), side("a", [0.0]), side("b", [1.0]), side("b", [0.0]))]).used  # no df
    centre = kernel_centre(cell[1], cell[3])
    adjusted = adjust_side(cell[0], cell[1], fit.slope, centre)
    assert np.std(list(adjusted.values())) == pytest.approx(0.0, abs=1e-12)
    assert leverage(cell[1], cell[3], fit) == pytest.approx((np.mean(x_c) - np.mean(x_b)) ** 2 * fit.se ** 2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=3, max_size=6), st.lists(st.floats(-1, 1), min_size=3, max_size=6),
       st.floats(-0.5, 0.5))
def test_a_slowdown_between_the_sides_never_leaks_into_the_slope(x_b: list[float], x_c: list[float],
                                                                 shift: float) -> None:
    noise_b = [0.01 * ((k * 7) % 5 - 2) for k in range(len(x_b))]
    noise_c = [0.01 * ((k * 3) % 5 - 2) for k in range(len(x_c))]
    b = side("a", [x + n for x, n in zip(x_b, noise_b, strict=True)])
    sides = {("c", "ttft_ms"): (b, side("b", [x + n for x, n in zip(x_c, noise_c, strict=True)]))}
    moved = {("c", "ttft_ms"): (b, side("b", [x + n + shift for x, n in zip(x_c, noise_c, strict=True)]))}
    kernels = {("c", "ttft_ms"): (side("a", x_b), side("b", x_c))}
    plain, plain_used = adjust_cells(sides, kernels, ["ttft_ms"])
    shifted, shifted_used = adjust_cells(moved, kernels, ["ttft_ms"])
    assert plain_used.keys() == shifted_used.keys()
    for key in plain_used:  # the same slope, and the adjusted current side moved by exactly the shift
        assert plain_used[key][0].slope == pytest.approx(shifted_used[key][0].slope)
        for run, value in plain[key][1].items():
            assert shifted[key][1][run] == pytest.approx(value + shift)


def test_compare_adjusts_stored_runs_and_machine_speed_off_judges_raw_times(tmp_path: Path) -> None:
    """The CLI on real stores of known rows: the same code on a machine twice as slow is shown unchanged once the
    kernel is used (exit 0); ``--machine-speed off`` judges the raw 2x times (not a pass)."""
    base = write_store(tmp_path / "base.sqlite", runs("a", BASE_MACHINE, seed=11))
    slow = write_store(tmp_path / "slow.sqlite", runs("c", [2 * m for m in BASE_MACHINE[::-1]], seed=12))
    adjusted = run_cli("compare", base, slow, "--metric", "ttft_ms", "--json")
    assert adjusted.returncode == 0, adjusted.stderr
    rows = json.loads(adjusted.stdout)
    assert {r["verdict"] for r in rows} == {"equivalent"}
    assert all("adjusted for machine speed" in r["tested_on"] for r in rows)
    raw = run_cli("compare", base, slow, "--metric", "ttft_ms", "--json", "--machine-speed", "off")
    assert raw.returncode in (1, GATE_INCONCLUSIVE_EXIT), raw.stderr
    assert not any("adjusted" in r["tested_on"] for r in json.loads(raw.stdout))
