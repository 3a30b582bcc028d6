"""The job level of the gate (issue 23): runs one CI job took in a row share its drift, so where the rows name their
jobs, compare averages each job's runs into one unit. Rows of known values: every verdict is known at any load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from support import assert_one_error_line, run_cli
from support.gate_rows import CELL, write_store

from genai_harness.errors import ConfigurationError
from genai_harness.gate.compare import compare_frames
from genai_harness.gate.units import ONE_JOB_A_SIDE, job_means, job_sides, run_jobs
from genai_harness.runner.job import CI_JOB_VARIABLES, JOB_ENV, confirming_job, job_id

DRIFT = [1.0, 0.90, 1.10, 0.95, 1.05]
"""Levels of five kept jobs of main: the machine drifts by 10 % between jobs."""
IN_JOB = [1.0, 1.005, 0.995]
"""Runs of one job agree to 0.5 %: they share its minutes on the machine."""


def job_runs(prefix: str, levels: list[float], *, name_jobs: bool = True, ttft: float = 10.0) -> pd.DataFrame:
    """Three runs per job level (run ids ``prefix`` + job + run), each five repetitions 1 % apart; ``job_id`` set
    unless ``name_jobs`` is False (rows of an older harness, or a run that named no job)."""
    return pd.DataFrame([{**CELL, "run_id": f"{prefix}{j}-{k}", "job_id": f"{prefix}{j}" if name_jobs else None,
                          "repetition": i, "ttft_ms": ttft * level * drift * (1 + 0.01 * i)}
                         for j, level in enumerate(levels) for k, drift in enumerate(IN_JOB) for i in range(5)])


def test_a_jobs_runs_average_into_one_unit() -> None:
    side = {"r1": 0.0, "r2": 0.2, "r3": 1.0, "r4": float("nan")}
    assert job_means(side, {"r1": "a", "r2": "a", "r4": "a"}) == pytest.approx({"job a": 0.1, "r3": 1.0})
    rows = pd.DataFrame({"run_id": ["r1", "r1", "r2", "r3"], "job_id": ["a", "a", "a", None]})
    assert run_jobs(rows) == {"r1": "a", "r2": "a"}  # r3 named no job: its own unit
    assert run_jobs(rows.drop(columns="job_id")) == {}


def test_jobs_are_the_units_only_where_they_group_runs_and_a_side_holds_several() -> None:
    sides = {"cell": ({"a": 0.0, "b": 0.1, "c": 0.2, "d": 0.3}, {"e": 0.5, "f": 0.6})}
    apart = {"cell": ({"a": "1", "b": "2", "c": "3", "d": "4"}, {"e": "5", "f": "6"})}
    assert job_sides(sides, apart) == (sides, "runs", "")  # one run a job: runs, as before
    grouped, units, note = job_sides(sides, {"cell": ({"a": "1", "b": "1", "c": "2", "d": "2"}, {"e": "3", "f": "3"})})
    assert units == "jobs" and note == "" and grouped["cell"] == (pytest.approx({"job 1": 0.05, "job 2": 0.25}),
                                                                  pytest.approx({"job 3": 0.55}))
    one = job_sides(sides, {"cell": ({"a": "1", "b": "1", "c": "1", "d": "1"}, {"e": "3", "f": "3"})})
    assert one == (sides, "runs", ONE_JOB_A_SIDE)  # nothing measures the drift between jobs: said, not hidden


def test_an_unchanged_job_on_a_drifting_machine_is_no_regression() -> None:
    """Counted as runs, the current job's drift (+15 %) is a regression at any run count: its runs agree. Counted as
    jobs, the kept history's spread between jobs says 15 % is what another job may show."""
    baseline, current = job_runs("main", DRIFT), job_runs("pr", [1.15])
    as_runs = compare_frames(baseline, current, metrics=["ttft_ms"], by_job=False).iloc[0]
    assert as_runs["verdict"] == "regression" and as_runs["tested_on"] == "runs"
    as_jobs = compare_frames(baseline, current, metrics=["ttft_ms"]).iloc[0]
    assert as_jobs["tested_on"] == "jobs" and as_jobs["df"] == 4  # five jobs of main, one current job
    assert as_jobs["verdict"] == "inconclusive" and as_jobs["ratio"] == pytest.approx(1.15, rel=0.01)
    assert as_jobs["unresolved"]  # beyond the threshold, not shown: never a silent pass either


def test_a_slowdown_beyond_the_drift_between_jobs_is_a_regression() -> None:
    slow = compare_frames(job_runs("main", DRIFT), job_runs("pr", [2.0]), metrics=["ttft_ms"]).iloc[0]
    assert slow["tested_on"] == "jobs" and slow["verdict"] == "regression"
    same = compare_frames(job_runs("main", DRIFT), job_runs("pr", [1.0]), metrics=["ttft_ms"]).iloc[0]
    assert same["verdict"] != "regression" and not same["blind"]


def test_one_job_a_side_is_tested_on_runs_and_says_the_drift_was_not_measured() -> None:
    row = compare_frames(job_runs("main", [1.0]), job_runs("pr", [1.0]), metrics=["ttft_ms"]).iloc[0]
    assert row["tested_on"] == f"runs; {ONE_JOB_A_SIDE}"
    unnamed = compare_frames(job_runs("main", DRIFT, name_jobs=False), job_runs("pr", [1.15], name_jobs=False),
                             metrics=["ttft_ms"]).iloc[0]
    assert unnamed["tested_on"] == "runs"  # rows that name no job: runs, as before


def test_the_job_comes_from_the_option_the_environment_or_the_ci_system() -> None:
    github = {"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_JOB": "gate"}
    assert job_id("nightly-7", {**github, JOB_ENV: "env"}) == "nightly-7"
    assert job_id(None, {**github, JOB_ENV: "env"}) == "env"
    assert job_id(None, github) == "github:o/r/42/2/gate"
    assert job_id(None, {"CI_PROJECT_PATH": "g/p", "CI_JOB_ID": "9"}) == "gitlab:g/p/9"
    assert job_id(None, {"GITHUB_RUN_ID": "42"}) is None  # part of a job's name is no name
    assert job_id(None, {}) is None
    for bad in ("", "  ", "a\nb", "x" * 201):
        with pytest.raises(ConfigurationError, match="job"):
            job_id(bad, {})
    with pytest.raises(ConfigurationError, match=JOB_ENV):
        job_id(None, {JOB_ENV: ""})


def test_the_confirming_job_is_the_jobs_own_id_with_confirm() -> None:
    github = {"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_JOB": "gate"}
    assert confirming_job(job_id(None, github)) == "github:o/r/42/2/gate/confirm"
    assert confirming_job("nightly-7") == "nightly-7/confirm"
    with pytest.raises(ConfigurationError, match="--confirming needs the job it confirms"):
        confirming_job(None)
    with pytest.raises(ConfigurationError, match="at most 200"):
        confirming_job("x" * 195)


def test_compare_of_stores_whose_runs_name_jobs(tmp_path: Path) -> None:
    baseline = write_store(tmp_path / "main.sqlite", job_runs("main", DRIFT))
    current = write_store(tmp_path / "pr.sqlite", job_runs("pr", [1.15]))
    proc = run_cli("compare", str(baseline), str(current), "--metric", "ttft_ms", "--json", "--on-inconclusive",
                   "fail")
    assert proc.returncode == 16, proc.stderr  # 15 % on a machine that drifts 10 % between jobs: not shown
    assert json.loads(proc.stdout)[0]["tested_on"] == "jobs" and "more jobs" in proc.stderr
    runs = run_cli("compare", str(baseline), str(current), "--metric", "ttft_ms", "--job-level", "off", "--json")
    assert runs.returncode == 1 and json.loads(runs.stdout)[0]["tested_on"] == "runs"
    one = write_store(tmp_path / "one.sqlite", job_runs("one", [1.0]))
    single = run_cli("compare", str(one), str(current), "--metric", "ttft_ms")
    assert "drift between jobs was not measured" in single.stderr and "keep two or more jobs" in single.stderr


def test_run_refuses_an_empty_job_name_before_anything_runs(tmp_path: Path) -> None:
    line = assert_one_error_line(run_cli("run", "--job", " ", "--store", str(tmp_path / "s.sqlite")))
    assert "--job is empty" in line and not (tmp_path / "s.sqlite").exists()
    line = assert_one_error_line(run_cli("run", "--store", str(tmp_path / "s.sqlite"),
                                         env={**os.environ, JOB_ENV: ""}))
    assert JOB_ENV in line


def test_run_confirming_without_a_job_is_one_line_and_runs_nothing(tmp_path: Path) -> None:
    ci = {name for _system, names in CI_JOB_VARIABLES for name in names} | {JOB_ENV}
    env = {k: v for k, v in os.environ.items() if k not in ci}
    line = assert_one_error_line(run_cli("run", "--confirming", "--store", str(tmp_path / "s.sqlite"), env=env))
    assert "--confirming needs the job it confirms" in line and not (tmp_path / "s.sqlite").exists()
