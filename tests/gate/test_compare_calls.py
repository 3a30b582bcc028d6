"""compare_frames counts worker calls, not pooled repetitions: an ``ab`` side is one run id, one call a round."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from support import run_cli

from genai_harness.gate.compare import compare_frames


def side(run_id: str, rounds: list[list[float]]) -> pd.DataFrame:
    """One run id whose rows come from several worker calls, repetitions numbered from 0 in each (as ab stores)."""
    base = {"run_id": run_id, "status": "ok", "framework": "onnxruntime_genai", "device": "CPU",
            "environment": "default", "precision": "f32", "threads": 2, "task": "text2text", "workload_id": "w",
            "model_id": "m"}
    return pd.DataFrame([{**base, "repetition": i, "ttft_ms": v} for values in rounds for i, v in enumerate(values)])


def test_an_ab_side_is_tested_on_one_median_per_round() -> None:
    # Each round's repetitions agree closely with each other (one process's state), but the rounds' level
    # moves with load; B is 12 % slower in two rounds and faster in two: no consistent regression.
    levels = [1.0, 1.3, 0.8, 1.1]
    a = side("A", [[10 * lv + 0.01 * i for i in range(10)] for lv in levels])
    b = side("B", [[10 * lv * f + 0.01 * i for i in range(10)] for lv, f in zip(levels, [1.12, 1.12, 0.9, 0.9],
                                                                               strict=True)])
    row = compare_frames(a, b, metrics=["ttft_ms"]).iloc[0]
    assert row["tested_on"] == "runs" and row["n_baseline"] == 40
    assert row["verdict"] != "regression"


def test_a_consistent_slowdown_across_rounds_is_a_regression() -> None:
    levels = [1.0, 1.3, 0.8, 1.1, 0.9]
    a = side("A", [[10 * lv + 0.01 * i for i in range(10)] for lv in levels])
    b = side("B", [[20 * lv + 0.01 * i for i in range(10)] for lv in levels])
    row = compare_frames(a, b, metrics=["ttft_ms"]).iloc[0]
    assert row["tested_on"] == "runs" and row["p_value"] < 0.05 and row["verdict"] == "regression"


def test_one_call_per_run_still_gives_one_median_per_run() -> None:
    a = pd.concat([side(f"A{r}", [[10.0 + r, 10.5 + r]]) for r in range(4)])
    b = pd.concat([side(f"B{r}", [[10.0 + r, 10.5 + r]]) for r in range(3)])
    row = compare_frames(a, b, metrics=["ttft_ms"]).iloc[0]
    assert row["tested_on"] == "runs" and row["n_current"] == 6  # 3 runs: too few for Mann-Whitney
    one = compare_frames(a, side("B0", [[10.0, 10.5]]), metrics=["ttft_ms"]).iloc[0]
    assert one["tested_on"] == "runs"  # one run against a history of four
    alone = compare_frames(side("A0", [[10.0, 10.5]]), side("B0", [[30.0, 30.5]]), metrics=["ttft_ms"]).iloc[0]
    assert alone["tested_on"] == "one run a side" and alone["verdict"] == "inconclusive"


@pytest.mark.slow
def test_a_real_ab_run_is_tested_on_its_rounds(tmp_path: Path) -> None:
    """Four real ABBA rounds of one onnxruntime-genai cell: ab pairs them, four per-round ratios of medians."""
    suite = tmp_path / "suite.toml"
    suite.write_text('id = "ab"\n[[entries]]\nworkload = "text-p128-g32"\nmodels = ["tiny-llm"]\n')
    done = run_cli("ab", "opts:threads=1", "opts:threads=2", "--suite", str(suite), "--framework",
                   "onnxruntime_genai", "--store", str(tmp_path / "ab.sqlite"), "--rounds", "4", "--max-rounds",
                   "4", "--metric", "tpot_ms", "--json", "--quiet")
    assert done.returncode in (0, 1, 16), done.stderr  # what four rounds show depends on the load
    (row,) = json.loads(done.stdout)
    assert row["tested_on"] == "paired rounds" and row["n_baseline"] == row["n_current"] == 40


def test_an_ab_side_keeps_one_load_time_per_round() -> None:
    """Load time and peak memory are measured once per worker call: an ab side has one per round, so ab
    gates them too (before, one value per run id was kept and they were always 'too little data')."""
    def with_load(run_id: str, loads: list[float]) -> pd.DataFrame:
        rows = side(run_id, [[10.0 + 0.01 * i for i in range(5)] for _ in loads])
        return rows.assign(load_s=[v for v in loads for _ in range(5)])

    a = with_load("A", [0.50, 0.52, 0.49, 0.51, 0.50, 0.53])
    b = with_load("B", [1.00, 1.04, 0.98, 1.02, 1.00, 1.06])
    row = compare_frames(a, b, metrics=["load_s"], paired=True).iloc[0]
    assert row["n_baseline"] == 6 and row["tested_on"] == "paired rounds" and row["verdict"] == "regression"


def test_a_paired_gate_judges_the_loads_cpu_time_where_the_rows_carry_it() -> None:
    """A busy runner makes a fresh worker's load wall time a lottery (whether the process got a core), which no
    pairing cancels; its CPU time sees the work. ``ab``'s defaults gate ``load_cpu_s`` in place of ``load_s`` where
    the rows carry it, and ``load_s`` in rows of older stores; ``compare`` of separate runs keeps ``load_s``."""
    from genai_harness.gate.metric_choice import default_metrics, paired_default_metrics

    def loaded(run_id: str, walls: list[float], cpus: list[float] | None) -> pd.DataFrame:
        rows = side(run_id, [[10.0 + 0.01 * i for i in range(5)] for _ in walls])
        rows = rows.assign(load_s=[v for v in walls for _ in range(5)])
        return rows if cpus is None else rows.assign(load_cpu_s=[v for v in cpus for _ in range(5)])

    walls_a = [0.03, 0.07, 0.03, 0.05, 0.03, 0.06, 0.04, 0.03]
    walls_b = [0.06, 0.03, 0.07, 0.03, 0.05, 0.03, 0.03, 0.07]
    cpus = [0.030, 0.031, 0.030, 0.032, 0.030, 0.031, 0.030, 0.031]
    a, b = loaded("A", walls_a, cpus), loaded("B", walls_b, [2 * v for v in cpus])
    rows = compare_frames(a, b, paired=True).set_index("metric")
    assert "load_cpu_s" in rows.index and "load_s" not in rows.index
    assert rows.loc["load_cpu_s", "verdict"] == "regression"  # twice the work, whatever the wall clock said
    older = compare_frames(loaded("A", walls_a, None), loaded("B", walls_b, None), paired=True)
    assert "load_s" in set(older["metric"]) and "load_cpu_s" not in set(older["metric"])
    assert paired_default_metrics() == tuple("load_cpu_s" if m == "load_s" else m for m in default_metrics())
    assert "load_s" in compare_frames(a, b)["metric"].tolist()  # separate runs: the wall time, as calibrated


def test_rounds_to_run_is_what_the_neediest_cell_asks_for() -> None:
    from genai_harness.gate.compare import MIN_REPETITIONS, rounds_to_run

    paired = pd.DataFrame({"tested_on": ["paired rounds", "paired rounds"], "rounds_needed": [12.0, 40.0]})
    assert rounds_to_run(paired) == 40.0
    short = pd.DataFrame({"tested_on": ["paired rounds", "runs"], "rounds_needed": [3.0, float("nan")]})
    assert rounds_to_run(short) == MIN_REPETITIONS  # a cell not yet tested on paired rounds needs that many first
    hopeless = pd.DataFrame({"tested_on": ["paired rounds"], "rounds_needed": [float("inf")]})
    assert rounds_to_run(hopeless) == float("inf")
