"""ab: sides, pairing and the interleaved order as pure functions; the whole command on a real cell."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import FakeWorkspace, assert_one_error_line, clean_env, run_cli, run_fake_cli

from genai_harness.errors import ConfigurationError
from genai_harness.gate.ab import Side, interleave, pair_cells
from genai_harness.gate.compare import AB_REPETITIONS, compare_frames
from genai_harness.results.store import ResultStore
from genai_harness.runner.job import JOB_ENV
from genai_harness.runner.round_loop import round_sides

SUITE = 'id = "ab"\n[[entries]]\nworkload = "text-p128-g32"\nmodels = ["tiny-llm"]\n'


def cell(framework: str, env: str, model: str, workload: str = "w") -> SimpleNamespace:
    return SimpleNamespace(framework=framework, device=SimpleNamespace(label="CPU"),
                           environment=SimpleNamespace(name=env), workload=SimpleNamespace(id=workload),
                           model=SimpleNamespace(id=model), label=f"{framework} CPU@{env} | {workload} | {model}")


def test_sides_parse_and_refuse_what_they_cannot_mean() -> None:
    assert Side.parse("env:ort-new") == Side("env", "ort-new")
    opts = Side.parse("opts:precision=bf16,threads=1")
    assert opts.precision == "bf16" and opts.threads == 1
    for bad in ("ort-new", "gpu:x", "env:", "opts:speed=2", "opts:threads"):
        with pytest.raises(ConfigurationError, match="A/B side"):
            Side.parse(bad)


def test_pairing_ignores_only_the_varied_dimension_and_the_order_alternates() -> None:
    a = [cell("ort", "base", "m"), cell("ov", "base", "m")]
    b = [cell("ov", "new", "m"), cell("ort", "new", "m"), cell("ort", "new", "other")]
    pairs = pair_cells(a, b, "env")  # type: ignore[arg-type]
    assert [(x.framework, y.framework, y.environment.name) for x, y in pairs] == [("ort", "ort", "new"),
                                                                                    ("ov", "ov", "new")]
    assert pair_cells(a, b, "model") == []  # type: ignore[arg-type]  # environments differ: no partner
    order = interleave(pairs[:1], 3)  # type: ignore[arg-type]
    assert [side for side, _ in order] == [0, 1, 1, 0, 0, 1]


def test_more_rounds_go_only_to_the_pairs_whose_noise_asks_for_them() -> None:
    import pandas as pd

    from genai_harness.gate.ab import interleave_each, pair_needs

    a = [cell("ort", "base", "m"), cell("ov", "base", "m")]
    b = [cell("ort", "new", "m"), cell("ov", "new", "m")]
    pairs = list(zip(a, b, strict=True))
    order = interleave_each([(pairs[0], 20, 3), (pairs[1], 21, 1)])  # type: ignore[list-item]
    assert [(side, c.framework) for side, c in order] == [(0, "ort"), (1, "ort"), (1, "ov"), (0, "ov"),
                                                          (1, "ort"), (0, "ort"), (0, "ort"), (1, "ort")]
    rows = [pd.DataFrame({"framework": [c.framework for c in cells for _ in range(n)], "device": "CPU",
                          "environment": [c.environment.name for c in cells for _ in range(n)],
                          "workload_id": "w", "model_id": "m"}) for cells, n in ((a, 2), (b, 2))]
    seen = pair_needs(pairs, rows, lambda x, y, n: float(len(x) * 10 + len(y) + (x["framework"] == "ov").sum() + n))
    assert seen == [24.0, 26.0]  # each pair judged on its own rows, both sides, told the job has two pairs


@pytest.mark.slow
def test_ab_run_catches_a_slowdown_of_b_and_says_so(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    store = tmp_path / "ab.sqlite"
    common = ("ab", "opts:threads=1", "opts:threads=2", "--suite", str(suite), "--framework", "onnxruntime_genai",
              "--store", str(store), "--rounds", "6", "--max-rounds", "6", "--metric", "tpot_ms", "--metric", "e2e_ms",
              "--quiet")
    slowed = run_cli(*common, "--json", "--inject-slowdown", "3.0")
    assert slowed.returncode in (1, 16), slowed.stderr  # six rounds prove 3x unless the load is wild: never a pass
    assert all(r["verdict"] == "regression" or r["unresolved"] for r in json.loads(slowed.stdout))
    rows = ResultStore(store).read()
    assert rows["run_id"].nunique() == 2 and len(rows) == 2 * 6 * 10  # two sides x six rounds x ten repetitions
    assert sorted(rows["threads_requested"].unique()) == [1, 2]
    assert rows[rows["threads_requested"] == 2]["injected_slowdown"].eq(3.0).all()
    cpu = rows.groupby("threads_requested")["load_cpu_s"].median()  # every load's CPU time, B's stretched too
    assert rows["load_cpu_s"].gt(0).all() and cpu[2] > 1.5 * cpu[1]  # 3x the same work: no load hides that
    assert_one_error_line(run_cli("ab", "env:default", "model:tiny-llm"), 2)


def test_more_rounds_follow_the_measured_need_up_to_the_cap() -> None:
    from genai_harness.gate.ab import more_rounds

    assert more_rounds(8.0, 10, 40) == 0  # enough already
    assert more_rounds(float("inf"), 10, 40) == 0 and more_rounds(float("nan"), 10, 40) == 0  # none would do
    assert more_rounds(12.2, 10, 40) == 3  # up to what it needs
    assert more_rounds(90.0, 10, 40) == 5  # half again of what ran, then the noise is measured again
    assert more_rounds(90.0, 36, 40) == 4 and more_rounds(90.0, 40, 40) == 0  # never past the cap
    assert more_rounds(50.0, 2, 40) == 2


def timed_workspace(root: Path, factors: list[float], workloads: dict[str, tuple[int, int]] | None = None,
                    load_cpu_ms: float = 0.0) -> tuple[Path, Path]:
    """A fake workspace whose model ``fake-timed`` injects its times (``backends.fake``: the n-th worker's calls
    take ``factors[n]`` times 5 ms to the first token and 1 ms a token after, and its load ``load_cpu_ms`` times that
    factor of CPU time), measured by ``workloads`` (name: (repetitions, warm-ups); one workload ``gen`` of three
    repetitions unless given): (suite, model folder)."""
    ws = FakeWorkspace(root)
    folder = root / "m" / "text" / "timed"
    folder.mkdir(parents=True)
    (folder / "fake_times.json").write_text(json.dumps({"ttft_ms": 5.0, "token_ms": 1.0, "factors": factors,
                                                              "load_cpu_ms": load_cpu_ms}))
    with open(ws.config, "a") as fh:
        fh.write('\n[models.fake-timed]\ntask = "text2text"\n[models.fake-timed.formats]\nfake = "m/text/timed"\n')
    for name, (repetitions, warmup) in (workloads or {"gen": (3, 0)}).items():
        ws.workload(name, repetitions=repetitions, warmup=warmup)
    return ws.suite("timed", [(name, ["fake-timed"]) for name in workloads or ["gen"]]), folder


def fake_ab(root: Path, suite: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``genai-harness ab env:default env:twin`` on the fake backend (twin: this interpreter again)."""
    return run_fake_cli("--python", f"twin={sys.executable}", "ab", "env:default", "env:twin", "--suite", suite,
                        "--framework", "fake", "--device", "CPU", "--store", root / "ab.sqlite", "--metric", "tpot_ms",
                        "--json", *args, cwd=root, timeout=300, env=env)


def test_ab_runs_more_rounds_when_its_noise_needs_them_and_stops_at_the_cap(tmp_path: Path) -> None:
    # per round (A, B in even rounds, B, A in odd ones) the workers' calls take: B/A = 1.3, 1.3, 0.8, 0.8, 1.3, 1.3
    suite, folder = timed_workspace(tmp_path, [1.0, 1.3, 1.3, 1.0, 1.0, 0.8, 0.8, 1.0])
    proc = fake_ab(tmp_path, suite, "--rounds", "2", "--max-rounds", "6", "--paired-test", "t")  # t's figures below
    # B/A 1.11 [0.85-1.44]: neither shown, 1.5x ruled out: under the default (auto) a warning, never silence
    assert proc.returncode == 0 and "genai-harness: warning: 1 rows inconclusive" in proc.stderr, proc.stderr
    # two rounds are too few for the paired test at all: it asks for the four it needs first
    assert "needs about 4 rounds to catch a 10 % slowdown; running 2 more (4 of at most 6)" in proc.stderr
    # four rounds of this noise (log ratios SD 0.27) would need 157 rounds: two more, then the cap
    assert "needs about 157 rounds to catch a 10 % slowdown; running 2 more (6 of at most 6)" in proc.stderr
    assert "it would need 126 rounds at this noise; stopping at 6 rounds (--max-rounds 6)" in proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["tested_on"] == "paired rounds" and result["df"] == 5 and result["rounds_needed"] == 126
    assert result["unresolved"] and not result["blind"]  # --on-inconclusive fail would exit 16 on it
    assert result["ratio"] == pytest.approx(math.exp((4 * math.log(1.3) + 2 * math.log(0.8)) / 6))
    assert len(ResultStore(tmp_path / "ab.sqlite").read()) == 2 * 6 * 3  # two sides x six rounds x three repetitions
    assert (folder / "fake_times.count").read_text() == "12"  # one worker per call
    bad = run_cli("ab", "opts:threads=1", "opts:threads=2", "--rounds", "5", "--max-rounds", "3")
    assert "--max-rounds must be a whole number from --rounds (5" in assert_one_error_line(bad, 2)


def test_ab_by_default_sees_a_slowdown_that_two_far_out_rounds_hide_from_a_t_test(tmp_path: Path) -> None:
    """A loaded runner's rounds: B is 1.12x A in 18 of 20, and in two a call waited for a core (B/A 0.5 and 2.2).
    The signed-rank test (the default) follows the rounds' centre; Student's t's interval, spread by the two, does
    not exclude 1 at alpha 0.01."""
    ratios = [1.12] * 20
    ratios[3], ratios[12] = 0.5, 2.2
    factors = [f for i, r in enumerate(ratios) for f in ((1.0, r) if i % 2 == 0 else (r, 1.0))]  # ABBA order
    suite, _ = timed_workspace(tmp_path, factors)
    proc = fake_ab(tmp_path, suite, "--rounds", "20", "--max-rounds", "20")
    assert proc.returncode == 1, proc.stderr
    (rank,) = json.loads(proc.stdout)
    assert rank["verdict"] == "regression" and rank["ratio"] == pytest.approx(1.12, rel=1e-3)
    assert rank["ratio_ci_low"] > 1.0 and rank["tested_on"] == "paired rounds"
    (tmp_path / "ab.sqlite").unlink()
    proc = fake_ab(tmp_path, suite, "--rounds", "20", "--max-rounds", "20", "--paired-test", "t")
    (t,) = json.loads(proc.stdout)
    assert t["verdict"] == "inconclusive" and t["ratio_ci_low"] < 1.0 < t["ratio_ci_high"]
    bad = fake_ab(tmp_path, suite, "--paired-test", "median")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--paired-test: invalid choice: 'median'" in bad.stderr


def test_ab_stops_once_its_noise_says_it_has_rounds_enough(tmp_path: Path) -> None:
    suite, _ = timed_workspace(tmp_path, [1.0])  # every call alike: no noise, B/A exactly 1
    proc = fake_ab(tmp_path, suite, "--rounds", "2", "--max-rounds", "6", "--paired-test", "t")
    assert proc.returncode == 0, proc.stderr
    assert "running 2 more (4 of at most 6)" in proc.stderr and "(6 of at most 6)" not in proc.stderr
    (result,) = json.loads(proc.stdout)
    assert (result["verdict"], result["ratio"], result["df"]) == ("equivalent", 1.0, 3.0)
    # the signed-rank test (the default) can show nothing on fewer than 8 rounds at alpha 0.01 (2 / 2**n): it
    # asks for them, then stops
    (tmp_path / "ab.sqlite").unlink()
    proc = fake_ab(tmp_path, suite, "--rounds", "2", "--max-rounds", "12")
    assert proc.returncode == 0, proc.stderr
    assert "running 2 more (4 of at most 12)" in proc.stderr and "running 2 more (6 of at most 12)" in proc.stderr
    assert "running 2 more (8 of at most 12)" in proc.stderr and "(9 of at most 12)" not in proc.stderr
    (result,) = json.loads(proc.stdout)
    assert (result["verdict"], result["ratio"], result["df"]) == ("equivalent", 1.0, 7.0)
    short = fake_ab(tmp_path, suite, "--rounds", "4", "--max-rounds", "4", "--store", tmp_path / "short.sqlite")
    assert "these rounds are too few for its signed-rank test to show any slowdown at --alpha; about 8 rounds" in (
        short.stderr)


def test_ab_with_long_lived_workers_counts_each_worker_pair_once(tmp_path: Path) -> None:
    # sessions load A first in even ones, B first in odd ones: every B worker is 1.3x its A partner
    suite, folder = timed_workspace(tmp_path, [1.0, 1.3, 1.3, 1.0])
    proc = fake_ab(tmp_path, suite, "--rounds", "2", "--max-rounds", "8", "--rounds-per-worker", "2")
    assert proc.returncode == 1, proc.stderr  # a regression, shown
    (result,) = json.loads(proc.stdout)
    # the job ran at least four workers a side (eight rounds), each worker pair one unit: df 3, not 7
    assert (result["tested_on"], result["df"], result["verdict"]) == ("paired workers", 3.0, "regression")
    assert result["ratio"] == pytest.approx(1.3)
    rows = ResultStore(tmp_path / "ab.sqlite").read()
    assert len(rows) == 2 * 8 * 3 and rows.groupby("run_id")["worker_session"].nunique().tolist() == [4, 4]
    assert (folder / "fake_times.count").read_text() == "8"  # one worker per side and session, not per call
    bad = fake_ab(tmp_path, suite, "--rounds-per-worker", "0")
    assert "--rounds-per-worker must be a whole number from 1 to 1000, got 0" in assert_one_error_line(bad, 2)


def test_a_sessions_load_order_is_taken_out_of_the_test_of_its_loads(tmp_path: Path) -> None:
    """An A/A pair whose worker that loads second spends 0.75 of the first one's CPU on its load (the first 40 ms, in
    CPU time: what load_cpu_s counts, whatever the machine's load). The order alternates session by session, so B/A
    is 0.75 in one session and 1.33 in the next: counted as noise, the load's test could show nothing; with the order
    taken out it is shown equal."""
    suite, _ = timed_workspace(tmp_path, [1.0, 0.75], load_cpu_ms=40.0)
    proc = fake_ab(tmp_path, suite, "--rounds", "16", "--max-rounds", "16", "--rounds-per-worker", "2",
                   "--metric", "load_cpu_s")
    results = {r["metric"]: r for r in json.loads(proc.stdout)}
    load = results["load_cpu_s"]
    assert (load["tested_on"], load["df"], load["verdict"]) == ("paired workers, load order taken out", 6.0,
                                                                 "equivalent"), (load, proc.stderr)
    assert load["ratio"] == pytest.approx(1.0, abs=0.05)
    assert results["tpot_ms"]["tested_on"] == "paired workers"  # a round's timing: balanced within its session
    rows = ResultStore(tmp_path / "ab.sqlite").read()
    first = {env: side.groupby("worker_session")["load_position"].first().tolist()
             for env, side in rows.groupby("environment")}
    assert first == {"default": [1, 2] * 4, "twin": [2, 1] * 4}  # the loads alternate, session by session
    # the same rows without their load order (rows before schema 9): the order is noise, and nothing is shown
    blind = compare_frames(*(side.drop(columns="load_position") for _, side in rows.groupby("environment")),
                           ignore=["environment"], paired=True, metrics=["load_cpu_s"])
    assert (blind["tested_on"].item(), blind["verdict"].item()) == ("paired workers", "inconclusive"), blind.T


def test_each_session_starts_its_rounds_with_the_side_that_loaded_first(tmp_path: Path) -> None:
    suite, _ = timed_workspace(tmp_path, [1.0] * 8)
    proc = fake_ab(tmp_path, suite, "--rounds", "8", "--max-rounds", "8", "--rounds-per-worker", "2")
    assert proc.returncode == 0, proc.stderr
    calls = ["B" if "@twin" in line.split("] ")[1].split(" | ")[0] else "A"
             for line in proc.stderr.splitlines() if line.startswith("[")]
    # loads alternate A-first and B-first session by session, and so do the rounds (ABBA from the first loader):
    # sessions that all began with A gave every position in a session to the same side (an A/A offset)
    assert "".join(calls) == "ABBA" + "BAAB" + "ABBA" + "BAAB", proc.stderr
    assert [round_sides((0, 1), k) for k in range(3)] == [(0, 1), (1, 0), (0, 1)]
    assert [round_sides((1, 0), k) for k in range(3)] == [(1, 0), (0, 1), (1, 0)]


def test_each_ab_call_measures_at_most_its_repetitions_after_the_workloads_warmups(tmp_path: Path) -> None:
    suite, _ = timed_workspace(tmp_path, [1.0], {"gen": (9, 1), "few": (2, 1)})
    proc = fake_ab(tmp_path, suite, "--rounds", "4", "--max-rounds", "4", "--repetitions", "5")
    assert proc.returncode == 0, proc.stderr
    rows = ResultStore(tmp_path / "ab.sqlite").read()
    per_call = rows.groupby(["run_id", "workload_id"])["repetition"].agg(["max", "size"])
    assert per_call.loc[(slice(None), "gen"), "max"].eq(4).all()  # nine capped at five a call: 0..4
    assert per_call.loc[(slice(None), "few"), "max"].eq(1).all()  # a workload with fewer keeps its own two
    assert per_call["size"].tolist() == [4 * 2, 4 * 5] * 2  # four rounds a side (sorted: few, gen)
    default = fake_ab(tmp_path, suite, "--rounds", "4", "--max-rounds", "4", "--store", tmp_path / "default.sqlite")
    assert default.returncode == 0, default.stderr
    assert AB_REPETITIONS is None  # by default every call measures its workload's own repetitions
    assert ResultStore(tmp_path / "default.sqlite").read().groupby("workload_id")["repetition"].max().to_dict() == {
        "gen": 8, "few": 1}
    bad = fake_ab(tmp_path, suite, "--repetitions", "0")
    assert "--repetitions must be a whole number from 1 to 10000, got 0" in assert_one_error_line(bad, 2)


def failing_ab(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ab env:default env:twin`` of a fake model whose every call fails (``fake-raise``), with ``args``."""
    ws = FakeWorkspace(root)
    ws.workload("gen", repetitions=2)
    suite = ws.suite("raise", [("gen", ["fake-raise"])])
    return run_fake_cli("--python", f"twin={sys.executable}", "ab", "env:default", "env:twin", "--suite", suite,
                        "--framework", "fake", "--device", "CPU", "--store", root / "ab.sqlite", *args, cwd=root,
                        timeout=300)


def test_a_round_that_fails_in_a_long_lived_worker_is_recorded_and_ends_its_session(tmp_path: Path) -> None:
    proc = failing_ab(tmp_path, "--rounds", "4", "--max-rounds", "4", "--rounds-per-worker", "2")
    assert proc.returncode not in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    rows = ResultStore(tmp_path / "ab.sqlite").read()
    # four rounds a side are raised to four sessions of two (the paired test needs four workers a side); each
    # session starts with the side that loaded first (A, B, A, B) and ends there: one failed row a session
    assert rows["status"].tolist() == ["failed"] * 4, rows[["status", "error"]]
    assert rows["environment"].tolist() == ["default", "twin"] * 2
    assert rows["error"].str.contains("fake runtime failure").all()


def test_a_call_that_fails_is_its_own_failed_row_and_the_next_call_still_runs(tmp_path: Path) -> None:
    proc = failing_ab(tmp_path, "--rounds", "2", "--max-rounds", "2")
    assert proc.returncode not in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    # every call its own worker: each call that fails is its failed row, and the next still runs (ABBA)
    calls = [line.split("] ")[1].split(" | ")[0] for line in proc.stderr.splitlines() if line.startswith("[")]
    assert calls == ["fake CPU", "fake CPU@twin", "fake CPU@twin", "fake CPU"], proc.stderr
    assert proc.stderr.count("failed in ") == 4, proc.stderr
    rows = ResultStore(tmp_path / "ab.sqlite").read()
    # each failure is a row, though a side's two fail alike and may fall in one second (rows are recorded to the
    # microsecond; to the second, equal failures merged into one row and the count was lost)
    assert rows["environment"].value_counts().to_dict() == {"default": 2, "twin": 2}
    assert rows["status"].eq("failed").all()
    assert rows["error"].str.contains("fake runtime failure").all()


@pytest.mark.slow
def test_ab_with_long_lived_workers_on_a_real_runtime(tmp_path: Path) -> None:
    """The wiring on a real runtime (what it measures depends on the machine; what it runs does not)."""
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    store = tmp_path / "ab.sqlite"
    proc = run_cli("ab", "opts:threads=1", "opts:threads=2", "--suite", str(suite), "--framework", "onnxruntime_genai",
                   "--store", str(store), "--rounds", "8", "--max-rounds", "8", "--rounds-per-worker", "2",
                   "--metric", "tpot_ms", "--metric", "load_s", "--json")
    assert proc.returncode in (0, 1, 16), proc.stderr  # threads 1 against 2: what it shows depends on the load
    rows = ResultStore(store).read()
    assert len(rows) == 2 * 8 * 10 and rows["status"].eq("ok").all()  # two sides x eight rounds x ten repetitions
    assert rows.groupby("run_id")["worker_session"].nunique().tolist() == [4, 4]
    assert rows.groupby("worker_session")["load_s"].nunique().eq(1).all()  # one load per worker
    results = {r["metric"]: r for r in json.loads(proc.stdout)}
    assert (results["tpot_ms"]["tested_on"], results["tpot_ms"]["df"]) == ("paired workers", 3.0)
    # one load a worker, two sessions of each load order: the order is estimated too (df 4 - 2)
    assert (results["load_s"]["tested_on"], results["load_s"]["df"]) == ("paired workers, load order taken out", 2.0)
    assert rows.groupby("worker_session")["load_position"].nunique().eq(1).all()


def test_ab_calls_on_a_compiling_target_take_no_cold_start_loads(tmp_path: Path) -> None:
    """openvino.genai compiles: ``run`` records its compile and cold/warm loads in fresh processes of their own, which
    every ``ab`` call taking again made its rounds twice as dear; the calls' own load (``load_s``) is still there."""
    suite = tmp_path / "suite.toml"
    suite.write_text('id = "ab-ov"\n[[entries]]\nworkload = "classify-b1"\nmodels = ["squeezenet"]\n')
    store = tmp_path / "ab.sqlite"
    proc = run_cli("--python", f"twin={sys.executable}", "ab", "env:default", "env:twin", "--suite", str(suite),
                   "--framework", "openvino.genai", "--device", "CPU", "--store", str(store), "--rounds", "4",
                   "--max-rounds", "4", "--repetitions", "2", "--metric", "load_s",
                   env={"GENAI_HARNESS_CACHE": str(tmp_path / "cache")})
    assert proc.returncode in (0, 1, 16), proc.stderr  # an A/A pair: what it shows depends on the load
    rows = ResultStore(store).read()
    assert len(rows) == 2 * 4 * 2 and rows["status"].eq("ok").all(), rows[["status", "error"]].to_string()
    assert rows["cache_state"].notna().all() and rows["load_s"].gt(0).all()  # through the cache, its load timed
    assert rows["compile_s"].isna().all()  # no extra loads: the cold or warm figure is each call's own load
    own = rows["load_cold_s"].fillna(rows["load_warm_s"])
    assert own.eq(rows["load_s"]).all() and rows["cache_state"].isin(["cold", "warm"]).all()


def test_ab_defaults_are_the_paired_gate_and_compare_keeps_its_own() -> None:
    from genai_harness.cli import build_parser
    from genai_harness.gate.compare import AB_ROUNDS, AB_THRESHOLD, ALPHA, PAIRED_ALPHA, PAIRED_TEST, THRESHOLD

    ab_args = build_parser().parse_args(["ab", "env:default", "env:new"])
    assert (ab_args.rounds, ab_args.threshold, ab_args.alpha) == (AB_ROUNDS, AB_THRESHOLD, PAIRED_ALPHA)
    assert ab_args.paired_test == PAIRED_TEST == "rank"
    assert AB_THRESHOLD < 1.10 and AB_ROUNDS >= 6  # below the slowdown it must catch; enough pairs for p < 0.05
    compare_args = build_parser().parse_args(["compare", "base.sqlite", "cur.sqlite"])
    assert (compare_args.threshold, compare_args.alpha) == (THRESHOLD, ALPHA) == (1.10, 0.01)


def test_ab_round_estimator_defaults_to_the_median_and_refuses_others(capsys: pytest.CaptureFixture[str]) -> None:
    from genai_harness.cli import build_parser
    from genai_harness.gate.compare import ROUND_ESTIMATOR

    assert build_parser().parse_args(["ab", "env:a", "env:b"]).round_estimator == ROUND_ESTIMATOR == "median"
    assert build_parser().parse_args(["ab", "env:a", "env:b", "--round-estimator", "best"]).round_estimator == "best"
    assert not hasattr(build_parser().parse_args(["compare", "b.sqlite", "c.sqlite"]), "round_estimator")
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["ab", "env:a", "env:b", "--round-estimator", "mean"])
    assert exit_info.value.code == 2 and "invalid choice: 'mean'" in capsys.readouterr().err


def test_sessions_take_turns_between_pairs_and_more_rounds_come_in_whole_sessions() -> None:
    from genai_harness.gate.ab import whole_sessions
    from genai_harness.runner.round_loop import session_plan

    assert session_plan([(0, 5), (0, 4)], 2) == [(0, 0, 2), (1, 0, 2), (0, 2, 2), (1, 2, 2), (0, 4, 1)]
    assert session_plan([(20, 3)], 10) == [(0, 20, 3)] and session_plan([], 3) == []
    assert session_plan([(0, 4)], 1) == [(0, r, 1) for r in range(4)]  # one round a worker: today's design
    with pytest.raises(ValueError, match="at least 1"):
        session_plan([(0, 4)], 0)
    assert whole_sessions(3, 40, 200, 10) == 10 and whole_sessions(3, 195, 200, 10) == 5  # never past the cap
    assert whole_sessions(0, 40, 200, 10) == 0 and whole_sessions(3, 40, 200, 1) == 3


def test_a_worker_that_served_several_rounds_is_one_unit_of_the_paired_test() -> None:
    import pandas as pd

    from genai_harness.gate.units import run_values, session_means, worker_sessions

    def side(run: str, sessions: list[str | None], values: list[float]) -> pd.DataFrame:
        """One call of two repetitions per value (both repetitions the value)."""
        return pd.DataFrame({"run_id": run, "repetition": [0, 1] * len(values),
                             "worker_session": [s for s in sessions for _ in range(2)],
                             "value": [v for v in values for _ in range(2)]})

    served = side("a", ["w0", "w0", "w1", "w1"], [1.0, 4.0, 2.0, 2.0])
    assert worker_sessions(served) == ["w0", "w0", "w1", "w1"]
    assert session_means([1.0, 4.0, 2.0, 2.0], worker_sessions(served)) == pytest.approx([2.0, 2.0])  # geometric
    assert run_values(served) == pytest.approx({"a#w0": 2.0, "a#w1": 2.0})  # the runs test counts workers too
    assert worker_sessions(side("a", ["w0", "w1"], [1.0, 2.0])) is None  # a worker a call: rounds are the units
    assert worker_sessions(side("a", [None, None], [1.0, 2.0])) is None  # rows before schema 6
    assert run_values(side("a", [None, None], [1.0, 2.0])) == {"a#1": 1.0, "a#2": 2.0}


def test_each_cell_pair_alternates_which_worker_loads_first() -> None:
    """Sessions of two cell pairs taking turns: each pair's load order alternates A-first, B-first (numbered over
    all sessions, each pair kept one order, and the worker that loads second loads faster)."""
    from genai_harness.runner.round_loop import SessionRunner, session_plan

    pairs = [(SimpleNamespace(label=f"{name} A"), SimpleNamespace(label=f"{name} B")) for name in ("ort", "ov")]
    runner = SessionRunner(None, [], None, [])  # type: ignore[arg-type]
    orders: dict[str, list[tuple[int, int]]] = {"ort A": [], "ov A": []}
    for index, _, _ in session_plan([(0, 40), (0, 40)], 10):
        orders[pairs[index][0].label].append(runner.load_order(pairs[index]))  # type: ignore[arg-type]
    assert orders["ort A"] == orders["ov A"] == [(0, 1), (1, 0), (0, 1), (1, 0)]


def test_both_sides_of_an_ab_job_name_its_job(tmp_path: Path) -> None:
    suite, _ = timed_workspace(tmp_path, [1.0] * 8)
    bad = fake_ab(tmp_path, suite, "--rounds", "2", "--max-rounds", "2", env={**clean_env(), JOB_ENV: " "})
    assert JOB_ENV in assert_one_error_line(bad) and not (tmp_path / "ab.sqlite").exists()  # refused before the store
    proc = fake_ab(tmp_path, suite, "--rounds", "2", "--max-rounds", "2", env={**clean_env(), JOB_ENV: "ci-7"})
    assert proc.returncode in (0, 16), proc.stderr
    rows = ResultStore(tmp_path / "ab.sqlite").read()
    assert rows["run_id"].nunique() == 2 and set(rows["job_id"]) == {"ci-7"}
    assert rows["calib_ms"].isna().all()  # the paired rounds never read the machine-speed kernel: not timed
