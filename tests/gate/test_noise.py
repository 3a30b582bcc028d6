"""The run-to-run spread pooled over cells: pure functions, checked against the one-cell test and by properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_harness.analysis.statistics import runs_log_t_test
from genai_harness.gate.noise import Spread, cell_spread, own_spread, pooled_spread, runs_test


def side(prefix: str, logs: list[float]) -> dict[str, float]:
    return {f"{prefix}{k}": v for k, v in enumerate(logs)}


def test_one_cell_alone_is_the_two_sample_t_test_on_its_runs() -> None:
    base, cur = [10.0, 10.4, 9.7, 10.1], [11.0, 11.9, 10.8]
    expected = runs_log_t_test(base, cur)
    b, c = side("a", list(np.log(base))), side("b", list(np.log(cur)))
    spread = own_spread(b, c)
    assert spread.df == 5 and spread.sd == pytest.approx(expected.sd_log_run)
    test = runs_test(b, c, spread)
    assert test.p_value == pytest.approx(expected.p_value) and test.ratio == pytest.approx(expected.ratio)
    assert test.ci_low < test.ratio < test.ci_high
    assert not own_spread(side("a", [0.1]), side("b", [0.3])).usable  # one run a side: no spread
    alone = runs_test(side("a", [0.1]), side("b", [0.3]), own_spread(side("a", [0.1]), side("b", [0.3])))
    assert alone.ratio == pytest.approx(math.exp(0.2)) and math.isnan(alone.p_value)


def test_cells_that_move_together_add_no_degrees_of_freedom() -> None:
    rng = np.random.default_rng(1)
    levels = rng.normal(0, 0.2, 8)  # one machine state per run, shared by every cell
    together = [(side("r", list(levels[:4] + k)), side("s", list(levels[4:] + k))) for k in range(6)]
    shared = pooled_spread(together)
    assert shared.rho == pytest.approx(1.0) and shared.df == pytest.approx(6)  # six copies of one cell's 6 df
    apart = [(side("r", list(rng.normal(k, 0.2, 4))), side("s", list(rng.normal(k, 0.2, 4)))) for k in range(6)]
    independent = pooled_spread(apart)
    assert independent.rho < 0.3 and independent.df > 25 and independent.cells == 6


def test_a_noisier_cell_keeps_its_own_spread() -> None:
    quiet = Spread(0.05, 40.0, 6)
    assert cell_spread(Spread(0.5, 6.0), quiet).sd == 0.5  # ten times the pool's: its own
    assert cell_spread(Spread(0.06, 6.0), quiet) is quiet  # within what the pool's noise allows: the pool's
    assert cell_spread(Spread(0.06, 6.0), Spread(math.nan, 0.0)).df == 6  # nothing to pool
    assert cell_spread(Spread(math.nan, 0.0), quiet) is quiet  # one run a side, judged by the others' spread


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(-3, 3), min_size=2, max_size=6), min_size=1, max_size=5))
def test_the_pooled_df_lies_between_one_cell_and_all_of_them(cells: list[list[float]]) -> None:
    pairs = [(side("a", logs), side("b", logs[::-1])) for logs in cells]
    spread = pooled_spread(pairs)
    one = max(2 * (len(logs) - 1) for logs in cells)
    assert one <= spread.df <= sum(2 * (len(logs) - 1) for logs in cells) + 1e-9
    assert 0.0 <= spread.rho <= 1.0 or math.isnan(spread.rho)


def test_a_spread_known_from_elsewhere_judges_one_run_a_side() -> None:
    """What a deterministic measure (instruction counts) passes in: its calibrated spread, so that one run a side
    is tested rather than untested."""
    import pandas as pd

    from genai_harness.gate.compare import compare_frames

    def one(run: str, value: float) -> pd.DataFrame:
        return pd.DataFrame([{"run_id": run, "status": "ok", "framework": "f", "device": "CPU", "task": "text2text",
                              "workload_id": "w", "model_id": "m", "repetition": i, "ttft_ms": value}
                             for i in range(3)])

    known = {"ttft_ms": Spread(0.004, 19.0)}  # 0.4 % between runs, measured over 20
    row = compare_frames(one("a", 100.0), one("b", 103.0), metrics=["ttft_ms"], threshold=1.02, spreads=known).iloc[0]
    assert row["tested_on"] == "runs, known spread" and row["df"] == 19 and row["verdict"] == "regression"
    same = compare_frames(one("a", 100.0), one("b", 100.1), metrics=["ttft_ms"], threshold=1.02, spreads=known)
    assert same.iloc[0]["verdict"] == "equivalent"
