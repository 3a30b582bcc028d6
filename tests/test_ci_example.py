"""The CI example (.github/workflows/perf-gate.yml): its own commands, run here, gate a real regression."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "perf-gate.yml"
WORKLOAD = """id = "ci-p32-g16"
version = 1
task = "text2text"
[input]
prompt_tokens = 32
new_tokens = 16
[run]
warmup = 2
repetitions = 10
timeout_s = 120
"""


def steps() -> dict[str, str]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    job = doc["jobs"]["perf-gate"]
    return {s["name"]: s["run"] for s in job["steps"] if "name" in s and "run" in s}


def run_step(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_workflow_measures_compares_and_keeps_the_baseline_on_main() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert set(doc["env"]) >= {"GATE_SUITE", "GATE_ARGS", "GATE_DIR", "HARNESS"}
    names = list(steps())
    assert names == ["Install", "Fetch the baseline", "Measure", "Compare", "Keep this run as the baseline"]
    uploads = [s for s in doc["jobs"]["perf-gate"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads[0]["with"]["name"] == "perf-baseline" and "refs/heads/main" in uploads[0]["if"]


@pytest.mark.slow
def test_its_commands_run_locally_and_fail_on_a_slowdown(tmp_path: Path) -> None:
    (tmp_path / "w.toml").write_text(WORKLOAD)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'id = "ci"\n[[entries]]\nworkload = "{tmp_path / "w.toml"}"\nmodels = ["tiny-llm"]\n')
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GATE_SUITE": str(suite), "GATE_DIR": str(tmp_path / "perf"),
           "HARNESS": str(REPO / ".venv" / "bin" / "genai-harness"), "GITHUB_STEP_SUMMARY": str(summary),
           "GATE_ARGS": "--framework onnxruntime_genai"}
    commands = steps()
    assert run_step(commands["Measure"], env).returncode == 0
    first = run_step(commands["Compare"], env)
    assert first.returncode == 0 and "No baseline yet" in summary.read_text()
    assert run_step(commands["Keep this run as the baseline"], env).returncode == 0
    (tmp_path / "perf" / "baseline").mkdir()
    (tmp_path / "perf" / "baseline.sqlite").rename(tmp_path / "perf" / "baseline" / "baseline.sqlite")

    slowed = {**env, "GATE_ARGS": env["GATE_ARGS"] + " --inject-slowdown 1.5"}
    (tmp_path / "perf" / "current.sqlite").unlink()
    assert run_step(commands["Measure"], slowed).returncode == 0
    gate = run_step(commands["Compare"], slowed)
    assert gate.returncode == 1, gate.stderr
    assert "regression" in summary.read_text() and (tmp_path / "perf" / "compare.xml").exists()
