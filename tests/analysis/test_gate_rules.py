"""The counted gate rule (instruction counts): one run a side, a 2 % threshold less the measured noise."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genai_harness.analysis.gate_rules import (
    INSTRUCTION_RULE,
    counted_defaults,
    counted_verdict,
    judge_counted,
    kind_rule,
)
from genai_harness.analysis.metric_info import METRICS
from genai_harness.gate.compare import compare_frames
from tests.support.stores import cell_rows

RULE = INSTRUCTION_RULE


def test_instruction_columns_follow_the_counted_rule_and_times_do_not() -> None:
    counted = [name for name, info in METRICS.items() if info.kind == "instructions"]
    assert set(counted) == {"instructions_load", "instructions_prefill", "instructions_per_token",
                            "instructions_per_step", "instructions_call"}
    assert all(kind_rule(name) is RULE for name in counted)
    assert kind_rule("tpot_ms") is None and kind_rule("no_such_metric") is None


@pytest.mark.parametrize(("slowdown", "expected"), [
    (1.0, "equivalent"), (1.005, "equivalent"), (1.02, "regression"), (1.015, "regression"),
    (1 / 1.02, "improvement"), (1.5, "regression"), (math.nan, "inconclusive"), (0.0, "inconclusive"),
])
def test_counted_verdicts(slowdown: float, expected: str) -> None:
    assert counted_verdict(slowdown, RULE.threshold, RULE.noise) == expected


@given(st.floats(min_value=0.5, max_value=2.0))
def test_a_change_of_the_threshold_is_flagged_whatever_the_noise_does(change: float) -> None:
    """A build that really changed by the threshold is flagged even when the noise pulls its count the other way;
    an unchanged build is never flagged whatever the noise does."""
    if change >= RULE.threshold:
        assert counted_verdict(change * (1 - RULE.noise), RULE.threshold, RULE.noise) == "regression"
    if change == 1.0:
        for noise in (1 - RULE.noise, 1 + RULE.noise):
            assert counted_verdict(noise, RULE.threshold, RULE.noise) not in ("regression", "improvement")
    verdict = counted_verdict(change, RULE.threshold, RULE.noise)
    assert verdict != "regression" or change >= RULE.flag_line


def test_judge_counted_needs_one_value_a_side_and_turns_higher_is_better() -> None:
    row = judge_counted([100.0], [103.0], lower_is_better=True, threshold=1.02, noise=0.005)
    assert row["verdict"] == "regression" and row["ratio"] == pytest.approx(1.03)
    assert row["ratio_ci_low"] < 1.03 < row["ratio_ci_high"] and row["tested_on"] == "counts"
    assert math.isnan(row["p_value"])
    flipped = judge_counted([100.0], [103.0], lower_is_better=False, threshold=1.02, noise=0.005)
    assert flipped["verdict"] == "improvement"


def test_counted_defaults_only_when_every_row_counted_instructions() -> None:
    assert counted_defaults(["instructions", "instructions"]) == tuple(
        n for n, i in METRICS.items() if i.kind == "instructions")
    assert counted_defaults(["instructions", None]) is None
    assert counted_defaults(["instructions", pd.NA]) is None
    assert counted_defaults([]) is None


def _counted(run_id: str, per_token: float) -> pd.DataFrame:
    rows = cell_rows(run_id, n=3, measure="instructions", instructions_per_token=per_token,
                     instructions_call=per_token * 40)
    return pd.DataFrame(rows)


def test_compare_judges_instruction_runs_one_run_a_side() -> None:
    base = _counted("run-a", 1_000_000.0)
    assert set(compare_frames(base, _counted("run-b", 1_001_000.0))["verdict"]) == {"equivalent"}
    worse = compare_frames(base, _counted("run-b", 1_030_000.0))
    assert set(worse["metric"]) == {"instructions_per_token", "instructions_call"}
    assert set(worse["verdict"]) == {"regression"} and set(worse["threshold"]) == {1.02}
    loose = compare_frames(base, _counted("run-b", 1_030_000.0), thresholds={"instructions_call": 1.05})
    assert loose.set_index("metric").loc["instructions_call", "verdict"] == "equivalent"
