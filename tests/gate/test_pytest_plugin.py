"""The pytest plugin: a project gates its own model in its own test suite (real cells, a real baseline store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_harness.results.store import ResultStore

pytest_plugins = ["pytester"]

GATED_TEST = """
def test_tiny_llm_keeps_its_speed(genai_gate):
    genai_gate("text-p128-g32", model="tiny-llm", framework="onnxruntime_genai", device="CPU",
               metrics=["tpot_ms", "e2e_ms"], inject_slowdown={slowdown})
"""


def test_the_plugin_is_registered_through_its_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert "--genai-baseline=STORE" in result.stdout.str() and "--genai-update-baseline" in result.stdout.str()
    pytester.makepyfile(test_usage="def test_x(genai_gate):\n    pass\n")
    usage = pytester.runpytest_subprocess("--genai-update-baseline")
    assert "--genai-update-baseline needs --genai-baseline" in usage.stderr.str() + usage.stdout.str()


@pytest.mark.slow
def test_record_compare_and_catch_a_slowdown(pytester: pytest.Pytester, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.sqlite"
    pytester.makepyfile(test_gated=GATED_TEST.format(slowdown="None"))
    missing = pytester.runpytest_subprocess("--genai-baseline", str(baseline), "-rs")
    missing.assert_outcomes(skipped=1)
    assert "no baseline for text-p128-g32" in missing.stdout.str()

    recorded = pytester.runpytest_subprocess("--genai-baseline", str(baseline), "--genai-update-baseline")
    recorded.assert_outcomes(passed=1)
    assert ResultStore(baseline).count() >= 3

    pytester.makepyfile(test_gated=GATED_TEST.format(slowdown="4.0"))
    slowed = pytester.runpytest_subprocess("--genai-baseline", str(baseline))
    slowed.assert_outcomes(failed=1)
    assert "performance regression against" in slowed.stdout.str() and "regression" in slowed.stdout.str()
