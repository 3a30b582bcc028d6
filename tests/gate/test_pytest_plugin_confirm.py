"""The pytest plugin's confirmation: a timed gate that fails measures its cell again as a second job and fails only
if both jobs together fail (deterministic: the fake backend's injected times, whatever the machine's load)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import CONFIG_VAR, FAKE_PRELUDE, FakeWorkspace, fake_registered

from genai_harness.results.store import ResultStore
from genai_harness.runner.benchmark import run

pytest_plugins = ["pytester"]
GATE = ("--genai-runs", "2", "--genai-machine-speed", "off")
"""Two runs a job; raw times (the kernel times the real machine, the fake's times are injected: a slope fitted on
them by chance must not move a deterministic verdict)."""
RECORDED = [1.0, 1.02, 0.98, 1.01]
"""The speed of each of the baseline's four recorded jobs: jobs drift a little, as real ones do."""


def job(level: float) -> list[float]:
    """The factors of one job's two runs (its workers) at ``level``."""
    return [level, 1.02 * level]


def timed_gate(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, factors: list[float],
               baseline: Path) -> Path:
    """A fake workspace in pytester's folder whose model ``fake-timed`` takes ``factors[n]`` times its times in
    the n-th worker (``backends.fake``), a conftest registering the fake backend and a gated test; and a
    ``baseline`` of four recorded jobs of two runs, written here as four pytest sessions would record them
    (the first 8 workers). Returns the model folder (its ``fake_times.count`` is the worker count)."""
    ws = FakeWorkspace(pytester.path)
    folder = pytester.path / "m" / "text" / "timed"
    folder.mkdir(parents=True)
    (folder / "fake_times.json").write_text(json.dumps({"ttft_ms": 5.0, "token_ms": 4.0, "factors": factors}))
    with open(ws.config, "a") as fh:
        fh.write('\n[models.fake-timed]\ntask = "text2text"\n[models.fake-timed.formats]\nfake = "m/text/timed"\n')
    workload = ws.workload("gen", repetitions=3)
    monkeypatch.setenv(CONFIG_VAR, str(ws.config))
    suite = pytester.path / "gate.toml"  # what the plugin writes for the gated test below
    suite.write_text(f'id = "gate"\n\n[[entries]]\nworkload = {json.dumps(str(workload))}\nmodels = ["fake-timed"]\n')
    with fake_registered() as fake:
        for recorded in range(len(RECORDED)):
            for _ in range(2):
                run(str(suite), frameworks=[fake], devices=["CPU"], store=baseline, progress=False,
                    job=f"pytest-recorded-{recorded}")
    pytester.makeconftest(FAKE_PRELUDE)
    pytester.makepyfile(test_gated=f"""
def test_fake_keeps_its_speed(genai_gate):
    genai_gate({str(workload)!r}, model="fake-timed", framework="fake", device="CPU", metrics=["tpot_ms"])
""")
    return folder


def test_a_failing_gate_is_measured_again_as_a_second_job(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # workers 0-7: the recorded jobs; 8-11: a job 15 % slower (its drift), then one at the usual speed;
    # 12-15: a job 1.5x slower, then another
    factors = [f for level in (*RECORDED, 1.15, 1.0, 1.5, 1.5) for f in job(level)]
    baseline, current = tmp_path / "baseline.sqlite", tmp_path / "current.sqlite"
    folder = timed_gate(pytester, monkeypatch, factors, baseline)
    assert ResultStore(baseline).read()["job_id"].nunique() == len(RECORDED)

    drifted = pytester.runpytest_subprocess(*GATE, "--genai-baseline", str(baseline), "--genai-store", str(current))
    drifted.assert_outcomes(passed=1)  # the drift alone failed; both jobs together do not
    assert "failed the gate (regression); 2 more, measured as a second job" in drifted.stdout.str()
    jobs = set(ResultStore(current).read()["job_id"])
    assert len(jobs) == 2 and {j for j in jobs if j.endswith("/confirm")}  # the confirming runs: a job of their own

    slowed = pytester.runpytest_subprocess(*GATE, "--genai-baseline", str(baseline))
    slowed.assert_outcomes(failed=1)
    assert "performance regression against" in slowed.stdout.str()
    assert "(confirmed: 2 more runs" in slowed.stdout.str()

    (folder / "fake_times.count").write_text("8")  # the drifting job's workers again, not confirmed this time
    unconfirmed = pytester.runpytest_subprocess(*GATE, "--genai-baseline", str(baseline), "--genai-confirm", "off")
    unconfirmed.assert_outcomes(failed=1)
    assert "performance regression against" in unconfirmed.stdout.str()
    assert "confirmed" not in unconfirmed.stdout.str()
