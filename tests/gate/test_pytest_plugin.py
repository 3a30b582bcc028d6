"""The pytest plugin: a project gates its own model in its own test suite (real cells, a real baseline store)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from support.workload_files import text_suite

from genai_harness.results.store import ResultStore

pytest_plugins = ["pytester"]
RUNS_3 = ("--genai-runs", "3")
"""The wiring tests measure 3 runs a cell (the default, 5, is for gating; these check what runs, not the verdict)."""

GATED_TEST = """
def test_tiny_llm_keeps_its_speed(genai_gate):
    genai_gate("text-p128-g32", model="tiny-llm", framework="onnxruntime_genai", device="CPU",
               metrics=["tpot_ms", "e2e_ms"], inject_slowdown={slowdown})
"""


def test_the_plugin_is_registered_through_its_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert "--genai-baseline=STORE" in result.stdout.str() and "--genai-update-baseline" in result.stdout.str()
    assert "(default 5)" in result.stdout.str()  # runs a gated cell: what the calibration asks for
    assert "--genai-confirm" in result.stdout.str()
    pytester.makepyfile(test_usage="def test_x(genai_gate):\n    pass\n")
    usage = pytester.runpytest_subprocess("--genai-update-baseline")
    assert "--genai-update-baseline needs --genai-baseline" in usage.stderr.str() + usage.stdout.str()


def test_a_baseline_that_is_not_there_is_an_error_before_anything_runs(pytester: pytest.Pytester,
                                                                         tmp_path: Path) -> None:
    pytester.makepyfile(test_gated=GATED_TEST.format(slowdown="None"))
    typo = pytester.runpytest_subprocess("--genai-baseline", str(tmp_path / "basline.sqlite"))
    typo.assert_outcomes(failed=1)  # in CI a skip is a pass: a typo must not turn the gate off
    assert "no baseline store at" in typo.stdout.str() and "basline.sqlite" in typo.stdout.str()
    url = pytester.runpytest_subprocess("--genai-baseline", "postgresql://gate:S3cret@127.0.0.1:1/none")
    url.assert_outcomes(failed=1)  # a URL is a store like any other: unreachable is an error, not "no baseline"
    assert "genai-harness gate:" in url.stdout.str() and "S3cret" not in url.stdout.str()
    assert not list(tmp_path.glob("*.sqlite"))  # nothing recorded, nothing created


@pytest.mark.slow
def test_record_compare_and_catch_a_slowdown(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Wiring on real cells: recording, rows found again, a 4x slowdown failing. Which failure (a regression or
    rows inconclusive beyond the threshold) depends on the machine's load; neither passes."""
    baseline = tmp_path / "baseline.sqlite"
    before = set(Path(tempfile.gettempdir()).glob("genai-gate-*"))
    pytester.makepyfile(test_gated=GATED_TEST.format(slowdown="None"))
    recorded = pytester.runpytest_subprocess(*RUNS_3, "--genai-baseline", str(baseline), "--genai-update-baseline")
    recorded.assert_outcomes(passed=1)
    assert ResultStore(baseline).count() >= 3
    jobs = ResultStore(baseline).read()["job_id"]
    assert jobs.nunique() == 1 and jobs.iloc[0].startswith("pytest-")  # a session's runs: one job

    pytester.makepyfile(test_gated=GATED_TEST.format(slowdown="4.0"))
    slowed = pytester.runpytest_subprocess(*RUNS_3, "--genai-baseline", str(baseline))
    slowed.assert_outcomes(failed=1)
    out = slowed.stdout.str()
    assert "performance regression against" in out or "performance inconclusive against" in out
    assert "(confirmed: 3 more runs" in out  # measured again as a second job before it failed (--genai-confirm)
    let_through = pytester.runpytest_subprocess(*RUNS_3, "--genai-baseline", str(baseline),
                                                "--genai-on-inconclusive", "pass", "--genai-confirm", "off")
    assert ("performance regression against" in let_through.stdout.str()) == bool(let_through.ret)
    assert "the baseline's runs came from one session" in let_through.stdout.str()  # the drift is not measured
    assert set(Path(tempfile.gettempdir()).glob("genai-gate-*")) == before  # no temporary folder left behind


@pytest.mark.slow
def test_a_workload_file_is_found_again_by_its_id(pytester: pytest.Pytester, tmp_path: Path) -> None:
    workload = text_suite(tmp_path, repetitions=3).parent / "text-p32-g16.toml"
    pytester.makepyfile(test_file=f"""
def test_file_workload(genai_gate):
    genai_gate({str(workload)!r}, model="tiny-llm", framework="onnxruntime_genai", device="CPU",
               metrics=["e2e_ms"])
""")
    baseline = tmp_path / "baseline.sqlite"
    pytester.runpytest_subprocess(*RUNS_3, "--genai-baseline", str(baseline),
                                  "--genai-update-baseline").assert_outcomes(passed=1)
    gated = pytester.runpytest_subprocess(*RUNS_3, "--genai-baseline", str(baseline), "--genai-on-inconclusive",
                                          "pass")
    assert "no baseline rows" not in gated.stdout.str()  # the rows carry the file's id, not its path
    assert gated.ret == 0 or "performance regression against" in gated.stdout.str()
