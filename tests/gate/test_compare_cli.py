"""compare's exit codes and refusals, on real stores holding rows of known values (deterministic at any load).

The values are written, not measured, so each verdict is known in advance: the wiring (store to comparison to
exit code, JUnit, the one-line refusals) is tested here; what real runs on this machine let the gate see is
calibrated in benchmarks/gate_honest.py, never in a test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest
from support import assert_one_error_line, run_cli
from support.gate_rows import CALM, MIDDLING, WIDE
from support.gate_rows import known_runs as runs
from support.gate_rows import write_store as store

from genai_harness.errors import GATE_INCONCLUSIVE_EXIT
from genai_harness.gate.compare import compare_frames
from genai_harness.gate.outcome import gate_outcome


def test_each_outcome_has_its_exit_code(tmp_path: Path) -> None:
    base = store(tmp_path / "base.sqlite", runs("a", CALM))
    same = store(tmp_path / "same.sqlite", runs("b", CALM[::-1]))
    slow = store(tmp_path / "slow.sqlite", runs("c", [1.5 * x for x in CALM]))
    common = ("--metric", "ttft_ms")

    passed = run_cli("compare", base, same, *common, "--json")
    assert passed.returncode == 0, passed.stderr
    assert [r["verdict"] for r in json.loads(passed.stdout)] == ["equivalent"]

    junit = tmp_path / "out" / "junit.xml"
    caught = run_cli("compare", base, slow, *common, "--junit", junit)
    assert caught.returncode == 1 and "regression found (exit 1)" in caught.stderr
    assert caught.stdout.splitlines()[-1] == "1 regression"
    assert ElementTree.parse(junit).getroot().get("failures") == "1"

    wide_base = store(tmp_path / "wide.sqlite", runs("d", WIDE))
    wide_slow = store(tmp_path / "wide-slow.sqlite", runs("e", [1.5 * x for x in WIDE[::-1]]))
    unsure = run_cli("compare", wide_base, wide_slow, *common, "--junit", junit)
    assert unsure.returncode == GATE_INCONCLUSIVE_EXIT, unsure.stderr  # 1.5x, not significant: not a pass
    assert "1 inconclusive (1 unresolved, 1 could hide 1.5x)" in unsure.stdout and "inconclusive !!" in unsure.stdout
    assert "--on-inconclusive auto; warn or pass to let it through" in unsure.stderr
    assert ElementTree.parse(junit).getroot().get("failures") == "1"
    warned = run_cli("compare", wide_base, wide_slow, *common, "--on-inconclusive", "warn")
    assert warned.returncode == 0 and "genai-harness: warning:" in warned.stderr
    let_through = run_cli("compare", wide_base, wide_slow, *common, "--on-inconclusive", "pass", "--junit", junit)
    assert let_through.returncode == 0 and "inconclusive" not in let_through.stderr
    assert ElementTree.parse(junit).getroot().get("skipped") == "1"


def test_auto_fails_only_where_the_runs_could_hide_a_one_and_a_half_fold_slowdown(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    base = store(tmp_path / "base.sqlite", runs("a", MIDDLING))
    slower = store(tmp_path / "slower.sqlite", runs("b", [1.12 * x for x in MIDDLING[::-1]]))
    beyond = run_cli("compare", base, slower, "--metric", "ttft_ms", "--json", "--on-inconclusive", "auto",
                     "--junit", junit)
    row = json.loads(beyond.stdout)[0]
    assert row["verdict"] == "inconclusive" and row["unresolved"] and not row["blind"], row
    assert beyond.returncode == 0 and "genai-harness: warning:" in beyond.stderr  # 1.5x ruled out: a warning
    assert "0 of them could hide a 1.5x slowdown" in beyond.stderr
    assert ElementTree.parse(junit).getroot().get("failures") == "0"
    failed = run_cli("compare", base, slower, "--metric", "ttft_ms", "--on-inconclusive", "fail")
    assert failed.returncode == GATE_INCONCLUSIVE_EXIT  # fail: any row beyond its threshold
    assert "1 inconclusive (1 unresolved)" in failed.stdout and "inconclusive !!" not in failed.stdout
    wide_base = store(tmp_path / "wide.sqlite", runs("d", WIDE))
    wide_slow = store(tmp_path / "wide-slow.sqlite", runs("e", [1.5 * x for x in WIDE[::-1]]))
    blind = run_cli("compare", wide_base, wide_slow, "--metric", "ttft_ms", "--on-inconclusive", "auto",
                    "--junit", junit)
    assert blind.returncode == GATE_INCONCLUSIVE_EXIT and "1 of them could hide a 1.5x slowdown" in blind.stderr
    assert ElementTree.parse(junit).getroot().get("failures") == "1"


def test_one_run_a_side_never_passes_in_silence(tmp_path: Path) -> None:
    one = store(tmp_path / "one.sqlite", runs("a", [1.0]))
    other = store(tmp_path / "other.sqlite", runs("b", [1.02]))
    alone = run_cli("compare", one, other, "--metric", "ttft_ms", "--metric", "peak_rss_mb")
    assert alone.returncode == GATE_INCONCLUSIVE_EXIT, alone.stderr
    untested = "untested: one run or one job a side"
    assert f"1 {untested}" not in alone.stderr and f"2 {untested}" in alone.stderr
    assert "nothing" in alone.stdout  # what the row could catch


def test_rows_in_any_order_are_one_run_and_memory_follows_the_same_rule() -> None:
    # issue 24: one baseline run (read back in another order, as a PostgreSQL read may) against one current run;
    # peak memory 86 vs 97 MiB, constant within each run, was called a regression at p 5e-4
    base = runs("a", [1.0]).sample(frac=1.0, random_state=3)
    cur = runs("b", [1.0], rss=97.0).sample(frac=1.0, random_state=4)
    result = compare_frames(base, cur, metrics=["ttft_ms", "peak_rss_mb"]).set_index("metric")
    assert result["tested_on"].eq("one run a side").all() and result["verdict"].eq("inconclusive").all()
    assert result.loc["peak_rss_mb", "ratio"] == pytest.approx(97 / 86) and gate_outcome(result) == "unresolved"
    history = compare_frames(runs("a", CALM).sample(frac=1.0, random_state=5), cur, metrics=["peak_rss_mb"]).iloc[0]
    assert history["tested_on"] == "runs" and history["df"] == 3  # four runs against one: 3 df, whatever the order


def test_the_same_rows_on_both_sides_are_refused(tmp_path: Path) -> None:
    base = store(tmp_path / "base.sqlite", runs("a", CALM))
    link = tmp_path / "link.sqlite"
    os.symlink(base, link)
    for current in (base, link, f"{link}@a1"):
        refused = run_cli("compare", base, current, "--metric", "ttft_ms")
        assert "on both sides" in assert_one_error_line(refused, 13)
    history = store(tmp_path / "history.sqlite", pd.concat([runs("a", CALM), runs("b", CALM)]))
    assert "share rows" in assert_one_error_line(run_cli("compare", history, f"{base}@a2"), 13)
    assert run_cli("compare", f"{base}@a0", f"{base}@a1", "--metric", "ttft_ms").returncode == GATE_INCONCLUSIVE_EXIT
    report = run_cli("report", "--store", base, "--baseline", link, "--out", tmp_path / "report")
    assert "are the same rows" in assert_one_error_line(report, 13)


def test_help_documents_the_exit_codes() -> None:
    shown = run_cli("compare", "--help").stdout
    assert "16 inconclusive" in " ".join(shown.split()) and "--on-inconclusive {auto,fail,warn,pass}" in shown
    assert "--on-inconclusive" in run_cli("ab", "--help").stdout
