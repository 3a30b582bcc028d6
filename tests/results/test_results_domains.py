"""Values outside their metric's domain (a negative duration, negative memory, a rate of zero) are set aside on
read, named in one warning, and never ranked: ``pick`` does not choose a target for its TTFT of -1.5 ms
(issue 24, point 7)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from support import run_cli
from support.dispatch_stores import TARGETS, rows

from genai_harness.host.fingerprint import machine_profile
from genai_harness.results.domains import OutOfDomainWarning, metric_domains
from genai_harness.results.store import ResultStore, load_results, open_store
from genai_harness.tasks.metric import metric_info


def test_domains_come_from_the_metric_definitions() -> None:
    domains = metric_domains()
    assert domains["ttft_ms"].domain == ">= 0" and domains["load_s"].domain == ">= 0"
    assert domains["peak_rss_mb"].domain == ">= 0"
    assert domains["decode_tps"].domain == "> 0" and domains["items_per_s"].domain == "> 0"
    rate = metric_info("x_per_s", "x", "items/s", (), "higher")
    assert not rate.in_domain(0.0) and rate.in_domain(1e-9) and rate.in_domain(float("nan"))
    assert metric_info("x_ms", "x", "ms", (), "lower").in_domain(0.0)
    assert "ref_token_agreement" not in domains  # accuracy measures declare no domain here


def hostile_store(path: Path) -> Path:
    """Two targets of this machine; the fast one's TTFT, memory and load time negative, its decode rate zero."""
    frame = rows(machine_profile(), targets={"npu": (*TARGETS["qnn"][:4], -1.551, 9.0, -97.0, -5.0),
                                     "cpu": TARGETS["cpu"]}, reps=5, prompt_lengths=(128,), model="tiny-llm")
    frame.loc[frame["run_id"].str.contains("npu"), "decode_tps"] = 0.0
    store = ResultStore(path)
    for _, cell in frame.groupby("run_id"):
        store.append(cell.to_dict("records"))
    return path


def test_a_read_sets_aside_what_is_out_of_domain_and_names_it_once(tmp_path: Path) -> None:
    store = hostile_store(tmp_path / "s.sqlite")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = open_store(store, create=False).read()
    assert len(caught) == 1 and issubclass(caught[0].category, OutOfDomainWarning)
    text = str(caught[0].message)
    assert "ttft_ms must be >= 0 but is not in 5 row(s) (5, 6, 7, 8, 9; the first -1.5" in text, text
    assert "decode_tps must be > 0" in text and "peak_rss_mb" in text and "load_s" in text, text
    assert "run synthetic-npu-128" in text and "device NPU:QNN" in text, text
    npu = frame["run_id"] == "synthetic-npu-128"
    for column in ("ttft_ms", "peak_rss_mb", "load_s", "decode_tps"):
        assert frame.loc[npu, column].isna().all(), column
    assert frame.loc[~npu, "ttft_ms"].notna().all() and (frame.loc[~npu, "ttft_ms"] > 0).all()
    assert frame.loc[npu, "tpot_ms"].notna().all()  # the row's valid values stay
    with pytest.warns(OutOfDomainWarning):
        assert load_results(store)["ttft_ms"].min() > 0


def test_pick_never_chooses_a_target_for_a_negative_ttft(tmp_path: Path) -> None:
    store = hostile_store(tmp_path / "s.sqlite")
    proc = run_cli("pick", "--task", "text2text", "--model", "tiny-llm", "--objective", "ttft", "--store", store,
                   "--allow-stale", "--json", cwd=tmp_path)
    warning = [line for line in proc.stderr.splitlines() if line.startswith("genai-harness: warning:")]
    assert len(warning) == 1 and "outside their metric's domain" in warning[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    decision = json.loads(proc.stdout)
    assert decision["winner"]["device"] == "CPU", decision  # the NPU's -1.5 ms would have won
    ranked = [decision["winner"], *decision["alternatives"]]
    assert all(c["device"] == "CPU" for c in ranked if c), ranked
