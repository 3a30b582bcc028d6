"""The CI example (.github/workflows/perf-gate.yml): its own commands, run here, gate a real regression."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from support import REPO
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
    assert set(doc["env"]) >= {"GATE_SUITE", "GATE_ARGS", "GATE_DIR", "HARNESS", "GATE_RUNS", "GATE_HISTORY"}
    names = list(steps())
    assert names == ["Install", "Fetch the baseline", "Measure", "Compare", "Keep this run as the baseline"]
    uploads = [s for s in doc["jobs"]["perf-gate"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads[0]["with"]["name"] == "perf-baseline" and "refs/heads/main" in uploads[0]["if"]


@pytest.mark.slow
def test_its_commands_run_locally_and_fail_on_a_slowdown(tmp_path: Path) -> None:
    suite = text_suite(tmp_path)
    summary = tmp_path / "summary.md"
    env = {**os.environ, **{k: str(v) for k, v in yaml.safe_load(WORKFLOW.read_text())["env"].items()},
           "GATE_SUITE": str(suite), "GATE_DIR": str(tmp_path / "perf"),
           "HARNESS": str(REPO / ".venv" / "bin" / "genai-harness"), "GITHUB_STEP_SUMMARY": str(summary),
           "GATE_ARGS": "--framework onnxruntime_genai"}
    commands = steps()
    assert run_step(commands["Measure"], env).returncode == 0
    first = run_step(commands["Compare"], env)
    assert first.returncode == 0 and "No baseline yet" in summary.read_text()
    assert run_step(commands["Keep this run as the baseline"], env).returncode == 0
    kept = list((tmp_path / "perf" / "baseline").glob("*.sqlite"))
    assert len(kept) == 1 and len(set(ResultStore(kept[0]).read()["run_id"])) == 3  # GATE_RUNS runs a job

    slowed = {**env, "GATE_ARGS": env["GATE_ARGS"] + " --inject-slowdown 4"}
    (tmp_path / "perf" / "current.sqlite").unlink()
    assert run_step(commands["Measure"], slowed).returncode == 0
    gate = run_step(commands["Compare"], slowed)
    assert gate.returncode == 1, gate.stderr
    assert "regression" in summary.read_text() and (tmp_path / "perf" / "compare.xml").exists()
    assert "| runs |" in summary.read_text()  # tested on one median per run, the history against this job's


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
