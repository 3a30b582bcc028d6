"""compare: the pure verdict over two result sets, its renderings, and the command on real runs."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from support import run_cli
from support.workload_files import text_suite

from genai_harness.analysis.metric_info import stretch
from genai_harness.analysis.paired import paired_rank_test, rank_min_pairs, sizing_spread
from genai_harness.errors import ComparisonError, ConfigurationError
from genai_harness.gate.compare import ALPHA, THRESHOLD, check_comparable, compare_frames
from genai_harness.gate.outcome import gate_fails, gate_outcome, has_regression, inconclusive_fails
from genai_harness.gate.render import to_junit, to_markdown, to_table
from genai_harness.gate.verdicts import could_hide, unresolved, verdict
from genai_harness.results.schema import frame_records
from genai_harness.results.selection import Selection
from genai_harness.results.store import ResultStore
from genai_harness.runner.job import JOB_ENV


def frame(run_id: str, ttft: list[float], tps: list[float] | None = None, **cell: str) -> pd.DataFrame:
    base = {"run_id": run_id, "status": "ok", "framework": "onnxruntime_genai", "device": "CPU",
            "environment": "default", "precision": "f32", "threads": 2, "task": "text2text", "workload_id": "w",
            "model_id": "m", **cell}
    tps = tps or [1000.0 / t for t in ttft]
    return pd.DataFrame([{**base, "repetition": i, "ttft_ms": t, "decode_tps": d, "load_s": 0.5}
                         for i, (t, d) in enumerate(zip(ttft, tps, strict=True))])


def noisy(center: float, n: int = 10, seed: int = 0) -> list[float]:
    return list(center * (1 + np.random.default_rng(seed).normal(0, 0.02, n)))


def history(prefix: str, center: float, runs: int = 4, seed: int = 0, **cell: str) -> pd.DataFrame:
    """``runs`` separate runs of one cell (one run id each) whose levels differ by ~3 %, as processes do."""
    levels = 1 + np.random.default_rng(seed + 100).normal(0, 0.03, runs)
    return pd.concat([frame(f"{prefix}{k}", noisy(center * level, seed=seed + k), **cell)
                      for k, level in enumerate(levels)])


RULE = {"threshold": THRESHOLD, "alpha": ALPHA}
"""compare's default rule: a factor of 1.10 at a false-alarm rate of 0.01."""


def test_verdicts_say_what_was_shown() -> None:
    assert verdict(1.2, 0.001, 1.1, 1.3, **RULE) == "regression"
    assert verdict(1.2, 0.2, 0.9, 1.6, **RULE) == "inconclusive"  # large but not significant: never "unchanged"
    assert unresolved("inconclusive", 1.2, 1.10, tested=True)  # ... and it cannot pass in silence
    assert verdict(1.05, 0.0001, 1.03, 1.07, **RULE) == "equivalent"  # significant, but shown inside 1/1.1 .. 1.1
    assert verdict(1.05, 0.3, 0.85, 1.3, **RULE) == "inconclusive"
    assert not unresolved("inconclusive", 1.05, 1.10, tested=True)
    assert verdict(0.8, 0.001, 0.7, 0.9, **RULE) == "improvement"
    assert verdict(1.5, math.nan, math.nan, math.nan, **RULE) == "inconclusive"  # one run a side: untested
    assert unresolved("inconclusive", 1.0, 1.10, tested=False)  # whatever its point estimate
    assert not unresolved("equivalent", 1.05, 1.10, tested=True)


def test_a_row_is_blind_when_its_runs_could_hide_a_one_and_a_half_fold_slowdown() -> None:
    assert could_hide("inconclusive", 1.10, tested=True, slowdown_high=1.6)  # 1.5x inside its interval
    assert not could_hide("inconclusive", 1.10, tested=True, slowdown_high=1.3)  # 1.5x ruled out: only a warning
    assert could_hide("inconclusive", 1.10, tested=False)  # one run a side: nothing ruled out
    assert could_hide("inconclusive", 2.0, tested=True, slowdown_high=2.1) and not could_hide(
        "inconclusive", 2.0, tested=True, slowdown_high=1.9)  # a threshold above 1.5 is the bar itself
    assert not could_hide("regression", 1.10, tested=True, slowdown_high=3.0)
    rows = pd.DataFrame({"unresolved": [True, False], "blind": [False, False]})
    assert inconclusive_fails(rows, "fail") and not inconclusive_fails(rows, "auto")
    assert not inconclusive_fails(rows, "warn") and not inconclusive_fails(rows, "pass")
    assert inconclusive_fails(rows.assign(blind=[True, False]), "auto")
    with pytest.raises(ComparisonError, match="must be one of auto, fail, warn, pass"):
        inconclusive_fails(rows, "maybe")


def test_whether_a_gate_fails_follows_the_exit_codes() -> None:
    """``gate_fails`` (what a confirming re-measurement is for): exit 1, or exit 16 under the policy."""
    unsure = pd.DataFrame({"verdict": ["inconclusive", "equivalent"], "unresolved": [True, False],
                           "blind": [False, False]})
    assert gate_fails(unsure, "fail") and not gate_fails(unsure, "auto") and not gate_fails(unsure, "warn")
    assert gate_fails(unsure.assign(blind=[True, False]), "auto")
    regressed = unsure.assign(verdict=["regression", "equivalent"], unresolved=[False, False])
    assert all(gate_fails(regressed, policy) for policy in ("auto", "fail", "warn", "pass"))
    assert not gate_fails(unsure.assign(unresolved=[False, False]), "fail")  # every row settled: a pass


def test_compare_frames_is_direction_aware_and_lists_one_sided_cells() -> None:
    base = history("a", 10.0, seed=1)
    slower = history("b", 12.0, seed=2)  # TTFT up 20 %, decode tokens/s down (1000/ttft): both worse
    result = compare_frames(base, pd.concat([slower, frame("b", noisy(5.0), workload_id="only-new")]),
                            metrics=["ttft_ms", "decode_tps", "load_s"])
    by_metric = {(r["workload_id"], r["metric"]): r for r in result.to_dict("records")}
    assert by_metric[("w", "ttft_ms")]["verdict"] == "regression"
    assert by_metric[("w", "ttft_ms")]["tested_on"] == "runs"  # 4 runs a side: Mann-Whitney on run medians
    assert by_metric[("w", "ttft_ms")]["ratio"] == pytest.approx(1.2, rel=0.05)
    low, high = by_metric[("w", "ttft_ms")]["ratio_ci_low"], by_metric[("w", "ttft_ms")]["ratio_ci_high"]
    assert low < by_metric[("w", "ttft_ms")]["ratio"] < high
    assert by_metric[("w", "decode_tps")]["verdict"] == "regression"  # lower tokens/s is worse
    assert by_metric[("w", "decode_tps")]["slowdown"] == pytest.approx(1.2, rel=0.05)
    assert by_metric[("w", "load_s")]["n_baseline"] == 4  # one load per run, not one per repetition
    assert by_metric[("w", "load_s")]["verdict"] == "equivalent"  # 0.5 s in every run: shown unchanged
    assert by_metric[("only-new", "ttft_ms")]["verdict"] == "only in current"
    assert has_regression(result)
    loose = compare_frames(base, slower, metrics=["ttft_ms"], thresholds={"ttft_ms": 1.5})
    assert loose["verdict"].tolist() == ["equivalent"]  # 1.2 [1.1-1.3] lies inside 1/1.5 .. 1.5
    same = compare_frames(base, history("c", 10.0, seed=3), metrics=["ttft_ms"])
    assert same["verdict"].tolist() == ["equivalent"] and not has_regression(same)  # four runs 3 % apart a side
    assert not same["unresolved"].any() and gate_outcome(same) == "pass"


def test_one_run_a_side_is_too_little_data_and_one_run_is_judged_against_a_history() -> None:
    # Ten repetitions of one process agree within 2 %, so pooling them would call this 20 % a regression
    # at p ~ 1e-4; but separate processes differ by 7-15 % on a shared runner, which one run a side cannot show.
    single = compare_frames(frame("a", noisy(10.0, seed=1)), frame("b", noisy(12.0, seed=2)),
                            metrics=["ttft_ms"]).iloc[0]
    assert single["tested_on"] == "one run a side" and single["verdict"] == "inconclusive"
    assert math.isnan(single["p_value"]) and math.isnan(single["detectable"])
    assert single["unresolved"]  # one run a side never passes in silence
    assert single["ratio"] == pytest.approx(1.2, rel=0.03)  # still shown
    slower = compare_frames(history("a", 10.0, runs=6, seed=1), frame("b", noisy(12.0, seed=2)),
                            metrics=["ttft_ms"]).iloc[0]
    assert slower["tested_on"] == "runs" and slower["n_baseline"] == 60
    assert slower["p_value"] < 0.05 and slower["verdict"] == "regression"
    assert 1.0 < slower["detectable"] < 1.25  # six runs 3 % apart see a 25 % slowdown of one run
    wide = history("w", 10.0, runs=6, seed=4)
    wide = wide.assign(ttft_ms=wide["ttft_ms"] * wide["run_id"].map({f"w{k}": f for k, f in
                                                                     enumerate([1.0, 1.3, 0.8, 1.2, 0.75, 1.1])}))
    unsure = compare_frames(wide, frame("b", noisy(12.0, seed=2)), metrics=["ttft_ms"]).iloc[0]
    assert unsure["verdict"] == "inconclusive" and unsure["detectable"] > 1.5  # runs 20 % apart: 20 % is noise
    assert unsure["unresolved"] and gate_outcome(pd.DataFrame([unsure])) == "unresolved"  # ... but not unchanged


def test_compare_frames_refuses_bad_input_and_pairs_across_an_ignored_dimension() -> None:
    base, other = history("a", 10.0), history("b", 10.0, seed=7, environment="ort-new")
    with pytest.raises(ConfigurationError, match="unknown metric 'ttft'"):
        compare_frames(base, other, metrics=["ttft"])
    with pytest.raises(ComparisonError, match="finite factor above 1"):
        compare_frames(base, other, threshold=0.9)
    with pytest.raises(ComparisonError, match="must lie between 0 and 1"):
        compare_frames(base, other, alpha=5)
    apart = compare_frames(base, other, metrics=["ttft_ms"])
    assert sorted(apart["verdict"]) == ["only in baseline", "only in current"]
    with pytest.raises(ComparisonError, match="no cell in common"):
        check_comparable(apart, "A", "B")
    paired = compare_frames(base, other, metrics=["ttft_ms"], ignore=["environment"])
    assert paired["verdict"].tolist() == ["equivalent"]


def test_renderings_table_markdown_junit() -> None:
    result = compare_frames(history("a", 10.0), history("b", 13.0, seed=5), metrics=["ttft_ms"])
    assert to_table(result).splitlines()[-1] == "1 regression"
    markdown = to_markdown(result)
    assert markdown.startswith("### genai-harness compare") and "| regression |" in markdown
    root = ElementTree.fromstring(to_junit(result).split("?>", 1)[1])
    assert root.get("failures") == "1" and root.find("testcase/failure") is not None


def test_selection_parsing() -> None:
    assert Selection.parse("a.sqlite@r1") == Selection(Path("a.sqlite"), "r1")
    assert Selection.parse("@last", default_store=Path("b.sqlite")) == Selection(Path("b.sqlite"), "last")
    url = "postgresql://me@db:5432/h"
    assert Selection.parse(url) == Selection(url, None)  # a URL stays a URL (a Path would fold its '//')
    assert Selection.parse(f"{url}@last") == Selection(url, "last")
    assert Selection.parse("postgresql://me:pw@db/h@r1").label == "postgresql://me:***@db/h@r1"


def test_stretch_grows_spans_and_shrinks_rates() -> None:
    out = stretch({"ttft_ms": 10.0, "decode_tps": 100.0, "peak_rss_mb": 50.0, "n_new_tokens": 16}, 1.1)
    assert out == {"ttft_ms": pytest.approx(11.0), "decode_tps": pytest.approx(100 / 1.1), "peak_rss_mb": 50.0,
                   "n_new_tokens": 16}


@pytest.mark.slow
def test_compare_command_on_real_runs(tmp_path: Path) -> None:
    """Three real runs of one onnxruntime-genai cell as the baseline history, a fourth with a 50x injected slowdown.

    Wiring on real runs, not calibration (benchmarks/gate_honest.py; the exit codes on rows of known values are in
    test_compare_cli.py): whether three runs against one prove 50x depends on this machine's load, so the slowed
    comparison must fail (a regression, or rows inconclusive beyond the threshold) and never pass. The slowdown
    stretches the recorded spans, so it costs no time.
    """
    suite = text_suite(tmp_path, repetitions=8)
    store, slow_store = tmp_path / "s.sqlite", tmp_path / "slow.sqlite"
    common = ("run", "--suite", str(suite), "--framework", "onnxruntime_genai", "--quiet")
    # the job each run belongs to (schema 7): named by --job, by $GENAI_HARNESS_JOB, or none
    assert run_cli(*common, "--store", str(store), "--job", "nightly-1").returncode == 0
    assert run_cli(*common, "--store", str(store), env={**os.environ, JOB_ENV: "nightly-2"}).returncode == 0
    assert run_cli(*common, "--store", str(store)).returncode == 0
    assert run_cli(*common, "--store", str(slow_store), "--inject-slowdown", "50").returncode == 0
    frame_all = ResultStore(store).read()
    runs = list(dict.fromkeys(frame_all["run_id"]))
    assert len(runs) == 3 and frame_all["injected_slowdown"].isna().all()
    jobs = frame_all.groupby("run_id", sort=False)["job_id"].first().fillna("-").tolist()
    assert jobs == ["nightly-1", "nightly-2", "-"]
    slow_rows = ResultStore(slow_store).read()
    assert slow_rows["injected_slowdown"].eq(50.0).all()
    # the calibration kernel (issue 23): timed in every real cell, one value per cell, never stretched by a slowdown
    assert frame_all["calib_ms"].gt(0).all() and frame_all.groupby("run_id")["calib_ms"].nunique().eq(1).all()
    assert slow_rows["calib_ms"].median() < 10 * frame_all["calib_ms"].median()

    slowed = run_cli("compare", str(store), str(slow_store), "--metric", "tpot_ms", "--metric",
                     "e2e_ms", "--alpha", "0.05", "--json", "--junit", str(tmp_path / "junit.xml"))
    assert slowed.returncode in (1, 16), slowed.stderr
    rows = json.loads(slowed.stdout)
    assert all(r["verdict"] == "regression" or r["unresolved"] for r in rows)  # never passed
    assert all(r["tested_on"] == "runs" or r["tested_on"].startswith("runs, pooled over 1 cells")
               for r in rows)  # one run against three (adjusted for machine speed where the kernel explains it)
    assert 'failures="2"' in (tmp_path / "junit.xml").read_text()

    markdown = run_cli("compare", str(slow_store), str(store), "--metric", "e2e_ms", "--alpha", "0.05", "--markdown")
    assert markdown.returncode == 0 and ("| improvement |" in markdown.stdout or "| inconclusive |" in markdown.stdout)
    single = run_cli("compare", f"{store}@{runs[0]}", f"{slow_store}@last", "--metric", "e2e_ms", "--json")
    assert single.returncode == 16 and json.loads(single.stdout)[0]["tested_on"] == "one run a side"

    missing = run_cli("compare", f"{store}@nope", "@last")
    assert missing.returncode == 11 and "no run 'nope'" in missing.stderr and len(missing.stderr.splitlines()) == 1
    other = tmp_path / "other.sqlite"
    ResultStore(other).append([{**r, "workload_id": "elsewhere"} for r in frame_records(frame_all)])
    apart = run_cli("compare", str(store), str(other))
    assert apart.returncode == 13 and "no cell in common" in apart.stderr
    bad_metric = run_cli("compare", str(store), str(other), "--metric", "speed")
    assert bad_metric.returncode == 2 and "unknown metric 'speed'" in bad_metric.stderr
    unmatched = run_cli("compare", str(store), str(slow_store), "--model", "no-such-model")
    assert unmatched.returncode == 13 and "has no rows" in unmatched.stderr
    bad_alpha = run_cli("compare", str(store), str(slow_store), "--alpha", "5")
    assert bad_alpha.returncode == 13 and "alpha" in bad_alpha.stderr


def test_results_stats_shows_intervals_per_cell(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    rows = frame("r1", noisy(10.0, n=12))
    ResultStore(store).append(frame_records(rows.assign(run_started_at="2026-11-28T00:00:00+00:00")))
    shown = run_cli("results", "--store", str(store), "--run", "last", "--stats", "--metric", "ttft_ms")
    assert shown.returncode == 0, shown.stderr
    header, _, line = shown.stdout.splitlines()[:3]
    assert header.split()[-3:] == ["p99", "95%", "CI"]
    assert "onnxruntime_genai CPU f32 x2" in line and "TTFT (ms)" in line and " 12 " in line


def ab_side(run_id: str, rounds: list[list[float]]) -> pd.DataFrame:
    """One ``ab`` side: one run id, one worker call per round, repetitions numbered from 0 in each."""
    base = {"run_id": run_id, "status": "ok", "framework": "onnxruntime_genai", "device": "CPU",
            "environment": "default", "precision": "f32", "threads": 2, "task": "text2text", "workload_id": "w",
            "model_id": "m"}
    return pd.DataFrame([{**base, "repetition": i, "ttft_ms": v, "decode_tps": 1000.0 / v}
                         for values in rounds for i, v in enumerate(values)])


def loaded_rounds(factor: float, n: int = 20, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A and B of ``n`` rounds whose level moves with load (shared within a round); B ``factor`` times slower."""
    rng = np.random.default_rng(seed)
    levels = rng.lognormal(0.0, 0.25, n)
    a = [[10 * lv * (1 + 0.01 * i) for i in range(10)] for lv in levels * rng.lognormal(0, 0.02, n)]
    b = [[10 * lv * factor * (1 + 0.01 * i) for i in range(10)] for lv in levels * rng.lognormal(0, 0.02, n)]
    return ab_side("A", a), ab_side("B", b)


def test_paired_compare_sees_a_slowdown_through_load_that_the_unpaired_test_misses() -> None:
    a, b = loaded_rounds(1.08)
    paired = compare_frames(a, b, metrics=["ttft_ms", "decode_tps"], paired=True).set_index("metric")
    assert paired["tested_on"].eq("paired rounds").all() and paired["n_current"].eq(200).all()
    assert paired.loc["ttft_ms", "verdict"] == "regression" and paired.loc["decode_tps", "verdict"] == "regression"
    assert paired.loc["ttft_ms", "ratio"] == pytest.approx(1.08, abs=0.02)
    assert paired.loc["ttft_ms", "ratio_ci_low"] > 1.0 and paired.loc["ttft_ms", "p_value"] < 0.01
    assert paired.loc["ttft_ms", "threshold"] == 1.05  # ab's factor unless told otherwise
    unpaired = compare_frames(a, b, metrics=["ttft_ms"]).iloc[0]
    assert unpaired["tested_on"] == "runs" and unpaired["verdict"] == "inconclusive"  # unpaired: not shown
    same_a, same_b = loaded_rounds(1.0, seed=4)
    assert compare_frames(same_a, same_b, metrics=["ttft_ms"], paired=True)["verdict"].tolist() == ["equivalent"]
    faster_a, faster_b = loaded_rounds(0.9, seed=5)
    assert compare_frames(faster_a, faster_b, metrics=["ttft_ms"], paired=True)["verdict"].tolist() == ["improvement"]


def test_paired_compare_holds_its_factor_and_falls_back_when_rounds_do_not_match() -> None:
    a, b = loaded_rounds(1.03)  # significant but under ab's 1.05
    row = compare_frames(a, b, metrics=["ttft_ms"], paired=True).iloc[0]
    assert row["p_value"] < 0.01 and row["verdict"] == "equivalent"  # 1.03, its interval inside 1/1.05 .. 1.05
    assert compare_frames(a, b, metrics=["ttft_ms"], paired=True, threshold=1.02).iloc[0]["verdict"] == "regression"
    slow_a, slow_b = loaded_rounds(1.10)
    one_lost = slow_b[slow_b.index < 190]  # B's last round failed: 19 rounds against 20
    row = compare_frames(slow_a, one_lost, metrics=["ttft_ms"], paired=True).iloc[0]
    assert row["tested_on"] == "runs" and row["n_current"] == 190


def test_a_rank_tested_row_is_sized_at_the_level_it_is_tested_at() -> None:
    rng = np.random.default_rng(3)
    a = rng.lognormal(0.0, 0.05, 14).tolist()
    b = (np.asarray(a) * rng.lognormal(0.0, 0.05, 14)).tolist()
    at_95 = paired_rank_test(a, b).sd_log_ratio
    strict = paired_rank_test(a, b, confidence=0.998).sd_log_ratio
    assert sizing_spread(a, b, at_95, 0.002) == max(at_95, strict)
    assert sizing_spread(a[:8], b[:8], 0.07, 0.002) == 0.07  # too few rounds to bound the strict interval: as given
    rounds = loaded_rounds(1.0, n=14, seed=3)
    rank = compare_frames(*rounds, metrics=["ttft_ms"], paired=True).iloc[0]
    t = compare_frames(*rounds, metrics=["ttft_ms"], paired=True, paired_test="t").iloc[0]
    assert rank["tested_on"] == t["tested_on"] == "paired rounds" and rank["rounds_needed"] >= 4
    assert math.isfinite(rank["detectable"]) and rank["detectable"] > 1.0


def test_a_rank_test_on_fewer_rounds_than_it_can_reject_with_sees_nothing_and_asks_for_them() -> None:
    assert [rank_min_pairs(a) for a in (0.05, 0.01, 0.002, 0.0002)] == [6, 8, 10, 14]  # 2 / 2**n < alpha
    a, b = loaded_rounds(1.10, n=6, seed=8)  # six rounds, each B about 10 % slower
    rank = compare_frames(a, b, metrics=["ttft_ms"], paired=True).iloc[0]
    t = compare_frames(a, b, metrics=["ttft_ms"], paired=True, paired_test="t").iloc[0]
    assert t["verdict"] == "regression"  # t on six rounds can
    assert rank["p_value"] >= 2 / 2 ** 6 and rank["verdict"] != "regression"  # the exact test's floor is 0.031
    assert rank["detectable"] == math.inf and rank["rounds_needed"] >= 8  # alpha 0.01 needs 8 rounds a side


def test_paired_compare_says_what_its_rounds_can_see() -> None:
    from genai_harness.commands.compare import power_notes

    a, b = loaded_rounds(1.0, n=6, seed=8)  # six rounds whose A and B differ by ~3 %: they see 1.07 and up
    quiet = compare_frames(a, b, metrics=["ttft_ms"], paired=True, paired_test="t")  # t's figures
    assert quiet.iloc[0]["detectable"] == pytest.approx(1.07, abs=0.005)
    assert quiet.iloc[0]["rounds_needed"] == 5  # consistent with what 6 rounds see: fewer than 6 would do
    assert power_notes(quiet) == []
    noisy_b = ab_side("B", [[v * f for v in r] for r, f in zip(
        [list(g["ttft_ms"]) for _, g in a.groupby(a["repetition"].eq(0).cumsum())],
        [1.3, 0.8, 1.2, 0.75, 1.25, 0.85], strict=True)])
    loud = compare_frames(a, noisy_b, metrics=["ttft_ms"], paired=True)
    assert loud.iloc[0]["detectable"] > 1.10 and loud.iloc[0]["rounds_needed"] > 6
    (note,) = power_notes(loud)
    assert "ttft_ms" in note and "rounds would catch 1.10x" in note
    unpaired = compare_frames(a, b, metrics=["ttft_ms"]).iloc[0]  # load moves both sides: unpaired sees less
    assert unpaired["tested_on"] == "runs" and unpaired["detectable"] > 1.5 > quiet.iloc[0]["detectable"]


def spiky_rounds(factor: float, n: int = 20, seed: int = 9) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rounds whose calls are hit repetition by repetition: in every call 4-7 of 10 repetitions take 1.5-4x as long,
    as openvino-genai's do under load, so a round's median swings while its fastest repetition stays put."""
    rng = np.random.default_rng(seed)

    def side(scale: float) -> list[list[float]]:
        rounds = []
        for _ in range(n):
            values = 10 * scale * (1 + 0.005 * rng.standard_normal(10))
            hit = rng.choice(10, int(rng.integers(4, 8)), replace=False)
            values[hit] *= rng.uniform(1.5, 4.0, hit.size)
            rounds.append(values.tolist())
        return rounds

    return ab_side("A", side(1.0)), ab_side("B", side(factor))


def test_paired_compare_by_the_best_repetition_sees_through_spikes_the_median_does_not() -> None:
    a, b = spiky_rounds(1.10)
    by_median = compare_frames(a, b, metrics=["ttft_ms", "decode_tps"], paired=True).set_index("metric")
    assert by_median["verdict"].eq("inconclusive").all()  # the default: spikes swamp a 10 % slowdown
    best = compare_frames(a, b, metrics=["ttft_ms", "decode_tps"], paired=True,
                          round_estimator="best").set_index("metric")
    assert best["verdict"].eq("regression").all()  # latency by its minimum, decode_tps by its maximum
    assert best.loc["ttft_ms", "ratio"] == pytest.approx(1.10, abs=0.01)
    assert best.loc["decode_tps", "ratio"] == pytest.approx(1 / 1.10, abs=0.01)
    assert best.loc["ttft_ms", "baseline_median"] == by_median.loc["ttft_ms", "baseline_median"]  # still medians
    same_a, same_b = spiky_rounds(1.0, seed=10)
    assert compare_frames(same_a, same_b, metrics=["ttft_ms"], paired=True,
                          round_estimator="best")["verdict"].tolist() == ["equivalent"]
    with pytest.raises(ComparisonError, match="round estimator must be one of"):
        compare_frames(a, b, metrics=["ttft_ms"], paired=True, round_estimator="mean")


def test_compare_says_on_one_line_what_its_runs_cannot_see() -> None:
    from genai_harness.commands.compare import runs_notes

    single = compare_frames(frame("a", noisy(10.0)), frame("b", noisy(10.0, seed=1)), metrics=["ttft_ms"])
    (line,) = runs_notes(single)
    assert "1 of 1 rows have one run a side" in line and "genai-harness ab" in line
    wide = history("w", 10.0, runs=4, seed=4)
    wide = wide.assign(ttft_ms=wide["ttft_ms"] * wide["run_id"].map({"w0": 1.0, "w1": 1.4, "w2": 0.7, "w3": 1.3}))
    (blind,) = runs_notes(compare_frames(wide, history("c", 10.0, runs=4, seed=9), metrics=["ttft_ms"]))
    assert "1 of 1 rows catch only slowdowns of" in blind
    assert runs_notes(compare_frames(history("a", 10.0), history("b", 10.0, seed=5), metrics=["ttft_ms"])) == []


def test_alpha_is_the_false_alarm_rate_of_the_whole_comparison() -> None:
    # Twelve cells of unchanged code, four runs a side, runs 5 % apart; in one cell the current runs sit 13 %
    # higher by chance (p 0.023). Alone, at alpha 0.05, that cell would be a regression; among twelve rows,
    # Holm's adjustment counts the twelve chances taken, and the comparison stays quiet.
    def runs(prefix: str, levels: list[float], workload: str) -> pd.DataFrame:
        return pd.concat([frame(f"{prefix}{k}", [10.0 * level] * 5, workload_id=workload)
                          for k, level in enumerate(levels)])

    calm = [1.0, 1.1, 0.95, 1.05]
    base = pd.concat([runs("a", calm, f"w{s}") for s in range(12)])
    cur = pd.concat([runs("b", [1.15, 1.22, 1.08, 1.2] if s == 0 else calm[::-1], f"w{s}") for s in range(12)])
    lone = compare_frames(base[base["workload_id"] == "w0"], cur[cur["workload_id"] == "w0"], metrics=["ttft_ms"],
                          alpha=0.05)
    result = compare_frames(base, cur, metrics=["ttft_ms"], alpha=0.05).set_index("workload_id")
    p_alone = lone.iloc[0]["p_value"]
    assert p_alone == pytest.approx(0.023, abs=0.001) and lone.iloc[0]["verdict"] == "regression"
    # eleven of the twelve cells' runs move together (the same levels): pooled, they add barely a df to a cell's 6
    assert result["df"].between(6, 8).all() and result.loc["w1", "tested_on"] == "runs, pooled over 12 cells"
    assert result.loc["w0", "p_value"] == pytest.approx(p_alone, abs=0.005) and result.loc["w0", "p_family"] > 0.05
    assert result.loc["w0", "verdict"] == "inconclusive" and not has_regression(result)
    assert result.loc["w0", "unresolved"] and gate_outcome(result) == "unresolved"  # 1.13: not shown, not passed
    assert result.loc["w0", "detectable"] > lone.iloc[0]["detectable"]  # sized at alpha / 12: each row sees less


def test_a_rate_and_the_latency_it_inverts_count_once_in_the_family() -> None:
    # decode_tps is 1000 / tpot_ms call by call, prefill_tps the prompt's tokens / ttft_ms: testing both of a pair
    # tests one hypothesis twice. Holm counts it once, so adding the rate rows moves no other row's adjusted p-value
    # nor what the job could catch.
    rng = np.random.default_rng(11)

    def side(run_id: str, factor: float) -> pd.DataFrame:
        base = {"run_id": run_id, "status": "ok", "framework": "onnxruntime_genai", "device": "CPU",
                "environment": "default", "precision": "f32", "threads": 2, "task": "text2text",
                "workload_id": "w", "model_id": "m"}
        rows = []
        for level in rng.lognormal(0.0, 0.05, 12):
            for i in range(9):
                tpot = 2.0 * level * factor * (1 + 0.01 * i)
                ttft = 10.0 * level * factor
                rows.append({**base, "repetition": i, "ttft_ms": ttft, "tpot_ms": tpot, "decode_tps": 1000.0 / tpot,
                             "prefill_tps": 128 / (ttft / 1000.0)})
        return pd.DataFrame(rows)

    a, b = side("A", 1.0), side("B", 1.04)
    both = compare_frames(a, b, paired=True, metrics=["ttft_ms", "tpot_ms", "decode_tps", "prefill_tps"]
                          ).set_index("metric")
    latency = compare_frames(a, b, paired=True, metrics=["ttft_ms", "tpot_ms"]).set_index("metric")
    assert both.loc["decode_tps", "p_family"] == both.loc["tpot_ms", "p_family"]
    assert both.loc["prefill_tps", "p_family"] == both.loc["ttft_ms", "p_family"]
    for name in ("ttft_ms", "tpot_ms"):
        assert both.loc[name, "p_family"] == pytest.approx(latency.loc[name, "p_family"])
        assert both.loc[name, "detectable"] == pytest.approx(latency.loc[name, "detectable"])
    assert both.loc["tpot_ms", "p_family"] < both.loc["tpot_ms", "p_value"] * 3  # a family of two, not of four
