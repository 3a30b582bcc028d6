"""The pytest plugin's confirmation: a timed gate that fails measures its cell again as a second job and fails only
if both jobs together fail (deterministic: the fake backend's injected times, whatever the machine's load)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import CONFIG_VAR, FAKE_PRELUDE, FakeWorkspace

from genai_harness.results.store import ResultStore

pytest_plugins = ["pytester"]
RUNS = ("--genai-runs", "3")
JITTER = [1.0, 1.03, 0.97]
"""Each job's three runs: a little spread, as real runs have (none at all would leave no noise to estimate)."""


def timed_gate(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, factors: list[float]) -> Path:
    """A fake workspace in pytester's folder whose model ``fake-timed`` takes ``factors[n]`` times its times in
    the n-th worker (``backends.fake``), a conftest registering the fake backend, and a gated test; returns the
    model folder (its ``fake_times.count`` is the worker count)."""
    ws = FakeWorkspace(pytester.path)
    folder = pytester.path / "m" / "text" / "timed"
    folder.mkdir(parents=True)
    (folder / "fake_times.json").write_text(json.dumps({"ttft_ms": 5.0, "token_ms": 4.0, "factors": factors}))
    with open(ws.config, "a") as fh:
        fh.write('\n[models.fake-timed]\ntask = "text2text"\n[models.fake-timed.formats]\nfake = "m/text/timed"\n')
    workload = ws.workload("gen", repetitions=3)
    monkeypatch.setenv(CONFIG_VAR, str(ws.config))
    pytester.makeconftest(FAKE_PRELUDE)
    pytester.makepyfile(test_gated=f"""
def test_fake_keeps_its_speed(genai_gate):
    genai_gate({str(workload)!r}, model="fake-timed", framework="fake", device="CPU", metrics=["tpot_ms"])
""")
    return folder


def test_a_failing_gate_is_measured_again_as_a_second_job(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # workers 0-14: five recorded sessions (jobs) at one speed; 15-20: a job 15 % slower (its drift), then one at
    # the same speed again; 21-26: a job 1.5x slower, then another
    factors = JITTER * 5 + [1.15 * f for f in JITTER] + JITTER + [1.5 * f for f in JITTER] * 2
    folder = timed_gate(pytester, monkeypatch, factors)
    baseline, current = tmp_path / "baseline.sqlite", tmp_path / "current.sqlite"
    for _ in range(5):
        pytester.runpytest_subprocess(*RUNS, "--genai-baseline", str(baseline),
                                      "--genai-update-baseline").assert_outcomes(passed=1)
    assert ResultStore(baseline).read()["job_id"].nunique() == 5

    drifted = pytester.runpytest_subprocess(*RUNS, "--genai-baseline", str(baseline), "--genai-store", str(current))
    drifted.assert_outcomes(passed=1)  # the drift alone failed; both jobs together do not
    assert "failed the gate (regression); 3 more, measured as a second job" in drifted.stdout.str()
    jobs = set(ResultStore(current).read()["job_id"])
    assert len(jobs) == 2 and {j for j in jobs if j.endswith("/confirm")}  # the confirming runs: a job of their own

    slowed = pytester.runpytest_subprocess(*RUNS, "--genai-baseline", str(baseline))
    slowed.assert_outcomes(failed=1)
    assert "performance regression against" in slowed.stdout.str()
    assert "(confirmed: 3 more runs" in slowed.stdout.str()

    (folder / "fake_times.count").write_text("15")  # the drifting job's workers again, not confirmed this time
    unconfirmed = pytester.runpytest_subprocess(*RUNS, "--genai-baseline", str(baseline), "--genai-confirm", "off")
    unconfirmed.assert_outcomes(failed=1)
    assert "performance regression against" in unconfirmed.stdout.str()
    assert "confirmed" not in unconfirmed.stdout.str()
