"""Variants chosen by measurement on the real smollm2-135m builds: the session's `run --reference` store (float32
and int4 on onnxruntime-genai and openvino-genai, see support.smollm2) ranked as one family by `pick` and
`open_text2text`, with quality floors and memory caps drawn from the measured rows themselves (so the test holds on
any CPU), and a model package of the family whose declared choice is set beside the measured one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from support import assert_one_error_line, run_cli
from support.smollm2 import FAMILY, MEASURED

from genai_harness.dispatch.auto import open_text2text
from genai_harness.dispatch.decision import Constraints
from genai_harness.interface import text2text

pytestmark = pytest.mark.slow


def _cells(store: Path) -> dict[tuple[str, str], dict[str, float]]:
    """Per (variant, framework): the measured answer share, token agreement and peak memory (median of rows)."""
    with sqlite3.connect(store) as conn:
        found = conn.execute(
            "SELECT model_id, framework, ref_answer_share, ref_token_agreement, peak_rss_mb FROM results "
            "JOIN cells ON results.cell_id = cells.id WHERE status = 'ok'").fetchall()
    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    for model, framework, share, agreement, peak in found:
        cell = out.setdefault((model, framework), {"answers": [], "agreement": [], "peak": []})
        for key, value in (("answers", share), ("agreement", agreement), ("peak", peak)):
            if value is not None:
                cell[key].append(float(value))
    return {k: {m: sorted(v)[len(v) // 2] for m, v in cell.items()} for k, cell in out.items()}


def _pick(env: dict[str, str], store: Path, *extra: str) -> dict[str, Any]:
    proc = run_cli("pick", "--task", "text2text", "--model", FAMILY, "--objective", "tpot", "--store", str(store),
                   "--json", *extra, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    return json.loads(proc.stdout)


def test_pick_ranks_every_real_variant_x_target_and_says_why_each_lost(smollm2_env: dict[str, str],
                                                                       smollm2_reference_store: Path) -> None:
    decision = _pick(smollm2_env, smollm2_reference_store)
    ranked = [decision["winner"], *decision["alternatives"]]
    assert {(c["model_id"], c["framework"]) for c in ranked} == {
        (m, f) for m in MEASURED for f in ("onnxruntime_genai", "openvino.genai")}
    best, winner = min(c["expected"] for c in ranked), decision["winner"]
    assert winner["expected"] == best or winner["ci_low"] <= best <= winner["ci_high"]  # fastest, or tied with it
    assert all(c["reason"] for c in decision["alternatives"]) and decision["winner"]["reason"] == ""
    cells = _cells(smollm2_reference_store)
    for c in ranked:
        assert c["answer_share"] == pytest.approx(cells[(c["model_id"], c["framework"])]["answers"])
        assert c["weight_precision"].split()[0] == ("int4" if c["model_id"].endswith("-int4") else "float32")
    text = run_cli("pick", "--task", "text2text", "--model", FAMILY, "--objective", "tpot", "--store",
                   str(smollm2_reference_store), env=smollm2_env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"pick: variant {decision['winner']['model_id']} on ")
    assert "why not first" in text.stdout and "answers" in text.stdout


def test_a_quality_floor_above_int4_leaves_float32_and_a_memory_cap_below_float32_leaves_int4(
        smollm2_env: dict[str, str], smollm2_reference_store: Path) -> None:
    cells = _cells(smollm2_reference_store)
    int4 = [v for (m, _f), v in cells.items() if m.endswith("-int4")]
    full = [v for (m, _f), v in cells.items() if not m.endswith("-int4")]
    # the measured truth these floors rest on: the float32 exports are the checkpoint, int4 loses answers
    metric = "answers" if max(v["answers"] for v in int4) < min(v["answers"] for v in full) else "agreement"
    floor = (max(v[metric] for v in int4) + min(v[metric] for v in full)) / 2
    floored = _pick(smollm2_env, smollm2_reference_store, "--min-quality", f"{floor:.4f}", "--quality-metric",
                    metric)
    assert {c["model_id"] for c in [floored["winner"], *floored["alternatives"]]} == {FAMILY}
    assert sum("quality below the floor" in e and "-int4 on " in e for e in floored["excluded"]) == 2
    cap = (max(v["peak"] for v in int4) + min(v["peak"] for v in full)) / 2
    capped = _pick(smollm2_env, smollm2_reference_store, "--max-memory", f"{cap:.0f}")
    assert {c["model_id"] for c in [capped["winner"], *capped["alternatives"]]} == {f"{FAMILY}-int4"}
    assert sum("over memory" in e for e in capped["excluded"]) == 2
    both = run_cli("pick", "--task", "text2text", "--model", FAMILY, "--objective", "tpot", "--store",
                   str(smollm2_reference_store), "--min-quality", f"{floor:.4f}", "--quality-metric", metric,
                   "--max-memory", f"{cap:.0f}", env=smollm2_env)
    line = assert_one_error_line(both, 14)
    assert "no measured variant x target of 'smollm2-135m'" in line and "over memory" in line
    assert line.endswith("relax a constraint (--min-quality, --max-memory, --precision, --device ...) or measure "
                         "other targets")


def test_open_text2text_opens_the_measured_variant_and_says_which(smollm2_env: dict[str, str],
                                                                  smollm2_reference_store: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_HARNESS_CONFIG", smollm2_env["GENAI_HARNESS_CONFIG"])
    cells = _cells(smollm2_reference_store)
    floor = (max(v["answers"] for (m, _f), v in cells.items() if m.endswith("-int4")) + 0.999) / 2
    pipe = open_text2text(FAMILY, "tpot", store=smollm2_reference_store, probe_budget_s=0,
                          constraints=Constraints(min_quality=floor))
    assert pipe.decision.winner.model_id == FAMILY
    assert pipe.dispatch_attempts[-1] == f"{pipe.decision.winner.choice}: opened"
    reply = pipe(pipe.chat_prompt("What is the capital of France?"), text2text.GenerationConfig(max_new_tokens=24))
    assert "Paris" in reply.text
    fastest = open_text2text(FAMILY, "tpot", store=smollm2_reference_store, probe_budget_s=0)
    assert fastest.decision.winner.model_id in MEASURED
    assert fastest.dispatch_attempts[-1].startswith(f"{fastest.decision.winner.model_id} on ")


def test_a_model_package_of_the_family_declares_one_choice_the_measurement_judges(
        smollm2_env: dict[str, str], smollm2_reference_store: Path, tmp_path: Path) -> None:
    package = tmp_path / "smollm2.ortpackage"
    written = run_cli("models", "package", FAMILY, "--out", str(package), env=smollm2_env)
    assert written.returncode == 0, written.stderr
    manifest = json.loads((package / "manifest.json").read_text())
    assert list(manifest["components"]["model"]["variants"]) == list(MEASURED)
    shown = run_cli("pick", "--task", "text2text", "--model", FAMILY, "--objective", "tpot", "--store",
                    str(smollm2_reference_store), "--framework", "onnxruntime_genai", "--package", str(package),
                    env=smollm2_env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    declared = next(line for line in lines if line.startswith("  declared choice: "))
    # onnxruntime's own selection: the CPU EP scores no compatibility string, so the first declared variant
    assert declared.startswith(f"  declared choice: {FAMILY} = {FAMILY}; selected by onnxruntime ")
    verdict = next(line for line in lines if line.startswith("  verdict: "))
    winner = lines[0].removeprefix("pick: variant ").split(" on ")[0]
    assert ("the declaration agrees" in verdict) == (winner == FAMILY), (verdict, winner)
    assert winner == FAMILY or "its variant ranks #2 of 2 (slower: " in verdict
    assert any(line.startswith("  onnxruntime-genai: onnxruntime-genai ") for line in lines)
    again = run_cli("models", "package", FAMILY, "--out", str(package), env=smollm2_env)
    assert "exists and is not an empty folder" in assert_one_error_line(again, 3)
