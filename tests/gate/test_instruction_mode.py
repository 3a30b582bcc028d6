"""``--measure instructions``: cells run under valgrind's callgrind, instructions counted per phase.

Real worker processes under real valgrind, on the fake backend (plain Python and numpy: a cell costs about half
of tiny-llm's on onnxruntime-genai under callgrind, whose spread and known-size change benchmarks/
instruction_counts.py measures). Counts, unlike times, do not depend on the machine being quiet, so the test
asserts on them. Skipped only where valgrind is not installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genai_harness.gate.compare import compare_frames
from genai_harness.runner.benchmark import run
from tests import support

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind is not installed: instruction mode cannot run here")


@needs_valgrind
def test_more_generated_tokens_cost_more_instructions_and_compare_flags_them(tmp_path: Path,
                                                                             fake_backend: str) -> None:
    ws = support.FakeWorkspace(tmp_path)
    store = tmp_path / "s.sqlite"
    frames = {}
    for new_tokens in (4, 8):
        workload = ws.workload("gen", repetitions=2, warmup=1, timeout_s=10, new_tokens=new_tokens)
        frames[new_tokens] = run(str(workload), frameworks=fake_backend, models="fake-ok", config=ws.config,
                                 store=store, progress=False, measure="instructions")
    few, many = frames[4], frames[8]
    for frame in (few, many):
        assert (frame["status"] == "ok").all(), frame["error"].tolist()
        assert (frame["measure"] == "instructions").all() and (frame["threads"] == 1).all()
        assert (frame[["instructions_load", "instructions_prefill", "instructions_per_token"]] > 0).all().all()
        assert frame["load_cpu_s"].isna().all()  # valgrind's CPU time is the simulation's: none recorded
    assert many["instructions_call"].min() > few["instructions_call"].max()
    decode = (many["n_new_tokens"] - 1) * many["instructions_per_token"]
    assert decode.min() > ((few["n_new_tokens"] - 1) * few["instructions_per_token"]).max()
    comparison = compare_frames(few, many, ignore=("workload_id",))
    calls = comparison[comparison["metric"] == "instructions_call"].iloc[0]
    assert calls["tested_on"] == "counts" and calls["verdict"] == "regression" and calls["threshold"] == 1.02
    same = compare_frames(few, few)
    assert set(same["verdict"]) == {"equivalent"} and set(same["metric"]) >= {"instructions_per_token"}
