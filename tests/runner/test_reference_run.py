"""A reference that cannot be had is recorded beside the measured rows, never instead of them (issue 20): the f32
reference of a quantized model (the same runtime at f32, which it cannot be) used to fail the whole cell (exit 9)."""

from __future__ import annotations

from pathlib import Path

from support import FakeWorkspace, run_fake_cli

from genai_harness.results.store import ResultStore


def test_a_quantized_cell_keeps_its_rows_when_its_reference_fails(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    suite = ws.suite("s", [("w", ["fake-int4", "fake-ok"])])
    proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--reference",
                        "--store", tmp_path / "s.sqlite", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    frame = ResultStore(tmp_path / "s.sqlite").read()
    int4, ok = frame[frame["model_id"] == "fake-int4"], frame[frame["model_id"] == "fake-ok"]
    assert len(int4) == 2 and (int4["status"] == "ok").all() and (int4["ttft_ms"] > 0).all()
    assert int4["ref_error"].str.contains("NumericsError: fake: this model stores int4 weights").all()
    assert int4["ref_token_agreement"].isna().all() and (int4["ref_source"] == "same runtime, f32 on CPU").all()
    assert ok["ref_error"].isna().all() and (ok["ref_token_agreement"] == 1.0).all()
