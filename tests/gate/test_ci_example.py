"""The CI example (.github/workflows/perf-gate.yml): its own commands, run here, gate a real regression."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support import REPO
from support.gate_rows import CALM, WIDE, known_runs, write_store
from support.workload_files import text_suite

from genai_harness.results.store import ResultStore

WORKFLOW = REPO / ".github" / "workflows" / "perf-gate.yml"


def steps() -> dict[str, str]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    job = doc["jobs"]["perf-gate"]
    return {s["name"]: s["run"] for s in job["steps"] if "name" in s and "run" in s}


def run_step(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_workflow_measures_compares_and_keeps_the_baseline_on_main() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert set(doc["env"]) >= {"GATE_SUITE", "GATE_ARGS", "GATE_DIR", "HARNESS", "GATE_RUNS", "GATE_HISTORY",
                               "GATE_ON_INCONCLUSIVE", "GATE_CONFIRM"}
    assert doc["env"]["GATE_CONFIRM"] == 1  # a failing gate is measured again before it fails (README)
    names = list(steps())
    assert names == ["Install", "Fetch the baseline", "Measure", "Compare", "Keep this run as the baseline"]
    uploads = [s for s in doc["jobs"]["perf-gate"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads[0]["with"]["name"] == "perf-baseline" and "refs/heads/main" in uploads[0]["if"]


def workflow_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    """The workflow's env, pointed at ``tmp_path`` and this checkout's harness."""
    return {**os.environ, **{k: str(v) for k, v in yaml.safe_load(WORKFLOW.read_text())["env"].items()},
            "GATE_DIR": str(tmp_path / "perf"), "HARNESS": str(REPO / ".venv" / "bin" / "genai-harness"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), **changes}


def test_its_compare_step_fails_on_a_regression_and_on_an_unproven_slowdown(tmp_path: Path) -> None:
    """The Compare step on stores of known rows (deterministic at any load): exit 1, 16 and 0 as documented
    (without the confirmation, which measures the suite again: the real-runs test below takes that path)."""
    env = workflow_env(tmp_path, GATE_CONFIRM="0")
    perf = tmp_path / "perf"
    cases = (("regression", CALM, [1.5 * x for x in CALM], 1),
             ("inconclusive", WIDE, [1.5 * x for x in WIDE[::-1]], 16), ("equivalent", CALM, CALM[::-1], 0))
    for verdict, base_levels, current_levels, code in cases:
        if perf.exists():
            shutil.rmtree(perf)
        (perf / "baseline").mkdir(parents=True)
        for job in range(2):  # two kept jobs of main: the history merges them
            write_store(perf / "baseline" / f"2026120{job}T000000Z-{job}.sqlite",
                        known_runs(f"main{job}-", base_levels[job::2]))
        write_store(perf / "current.sqlite", known_runs("pr-", current_levels))
        summary = tmp_path / "summary.md"
        summary.write_text("")
        gate = run_step(steps()["Compare"], {**env, "GATE_ARGS": ""})
        assert gate.returncode == code, gate.stderr
        assert f"| {verdict}" in summary.read_text() and (perf / "compare.xml").exists()
        assert "| runs" in summary.read_text()  # one median per run, the history against this job's
    warned = run_step(steps()["Compare"], {**env, "GATE_ON_INCONCLUSIVE": "warn"})
    assert warned.returncode == 0  # the last case passed anyway; warn changes nothing there
    summary.write_text("")
    passed = run_step(steps()["Compare"], {**env, "GATE_CONFIRM": "1"})
    assert passed.returncode == 0 and "to confirm it" not in summary.read_text()  # a pass is never re-measured


@pytest.mark.slow
def test_its_commands_run_locally_and_never_pass_a_slowdown(tmp_path: Path) -> None:
    """Real runs through every step (wiring, not calibration): a 4x slowdown fails the job, as a regression or
    as rows inconclusive beyond the threshold, depending on this machine's load, and never passes."""
    suite = text_suite(tmp_path)
    github = {"GITHUB_REPOSITORY": "owner/repo", "GITHUB_RUN_ID": "101", "GITHUB_RUN_ATTEMPT": "1",
              "GITHUB_JOB": "perf-gate"}  # what the runner sets: each job's runs record it
    env = workflow_env(tmp_path, GATE_SUITE=str(suite), GATE_ARGS="--framework onnxruntime_genai", GATE_RUNS="3",
                       **github)  # three runs a job keep the test short: the wiring is the same
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    commands = steps()
    assert run_step(commands["Measure"], env).returncode == 0
    first = run_step(commands["Compare"], env)
    assert first.returncode == 0 and "No baseline yet" in summary.read_text()
    assert run_step(commands["Keep this run as the baseline"], env).returncode == 0
    kept = list((tmp_path / "perf" / "baseline").glob("*.sqlite"))
    kept_rows = ResultStore(kept[0]).read()
    assert len(kept) == 1 and len(set(kept_rows["run_id"])) == 3  # GATE_RUNS runs a job
    assert set(kept_rows["job_id"]) == {"github:owner/repo/101/1/perf-gate"}

    slowed = {**env, "GATE_ARGS": env["GATE_ARGS"] + " --inject-slowdown 4", "GITHUB_RUN_ID": "102"}
    (tmp_path / "perf" / "current.sqlite").unlink()
    assert run_step(commands["Measure"], slowed).returncode == 0
    gate = run_step(commands["Compare"], slowed)
    assert gate.returncode in (1, 16), gate.stderr
    assert ("regression" if gate.returncode == 1 else "inconclusive") in summary.read_text()
    assert "one job a side: drift between jobs not measured" in summary.read_text()  # one kept job of main
    assert "measuring 3 more runs as a second job to confirm it" in summary.read_text()  # GATE_CONFIRM
    current = ResultStore(tmp_path / "perf" / "current.sqlite").read()
    first = "github:owner/repo/102/1/perf-gate"
    assert set(current["job_id"]) == {first, f"{first}/confirm"} and current["run_id"].nunique() == 6
    assert (tmp_path / "perf" / "compare.xml").exists()


def test_the_baseline_keeps_the_last_jobs_of_main(tmp_path: Path) -> None:
    baseline = tmp_path / "perf" / "baseline"
    baseline.mkdir(parents=True)
    for day in range(1, 8):
        (baseline / f"2026110{day}T000000Z-{day}.sqlite").write_bytes(b"")
    (tmp_path / "perf" / "current.sqlite").write_bytes(b"new")
    env = {**os.environ, "GATE_DIR": str(tmp_path / "perf"), "GATE_HISTORY": "5"}
    assert run_step(steps()["Keep this run as the baseline"], env).returncode == 0
    kept = sorted(p.name for p in baseline.glob("*.sqlite"))
    assert len(kept) == 5 and kept[0].startswith("20261104") and (baseline / kept[-1]).read_bytes() == b"new"
