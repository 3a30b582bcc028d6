"""The dispatcher's ranking as a pure function, on SYNTHETIC fixture stores (tests/support/dispatch_stores.py)."""

from __future__ import annotations

import math

import pytest
from support.dispatch_stores import TARGETS, profile, rows

from genai_harness.dispatch.auto import install_note
from genai_harness.dispatch.decision import Candidate, Constraints
from genai_harness.dispatch.ranking import order_candidates, rank, static_decision
from genai_harness.errors import ConfigurationError, NoEvidenceError, StaleEvidenceError

HERE = profile()


def test_picks_by_objective_with_intervals_and_ranked_alternatives() -> None:
    frame = rows(HERE)
    ttft = rank(frame, task="text2text", model="phi-mini", objective="ttft", machine=HERE, prompt_tokens=128)
    assert ttft.device == "GPU:DML" and ttft.winner.ci_low <= ttft.expected <= ttft.winner.ci_high
    assert [c.device for c in ttft.ranked] == ["GPU:DML", "NPU", "NPU:QNN", "CPU"]
    assert ttft.evidence_rows == len(frame) and not ttft.stale and ttft.winner.evidence == "this machine"
    assert (ttft.ci_low, ttft.ci_high, ttft.unit, ttft.options) == (
        ttft.winner.ci_low, ttft.winner.ci_high, "ms", ttft.winner.options)
    tpot = rank(frame, task="text2text", model="phi-mini", objective="tpot", machine=HERE)
    assert tpot.device == "NPU:QNN" and tpot.winner.unit == "ms"
    memory = rank(frame, task="text2text", model="phi-mini", objective="memory", machine=HERE)
    assert memory.device == "NPU" and memory.winner.expected == 700.0
    cold = rank(frame, task="text2text", model="phi-mini", objective="cold", machine=HERE, calls=1)
    dml = frame[frame["device"] == "GPU:DML"]
    assert cold.device == "GPU:DML" and cold.expected == pytest.approx(2.0 + dml["e2e_ms"].median() / 1000)
    many = rank(frame, task="text2text", model="phi-mini", objective="cold", machine=HERE, calls=100)
    assert many.device == "NPU:QNN"  # over many calls the fastest decoder's slower load pays off


def test_latency_interpolates_between_measured_prompt_lengths_and_never_extrapolates() -> None:
    frame = rows(HERE)
    mid = rank(frame, task="text2text", model="phi-mini", objective="latency", machine=HERE,
               prompt_tokens=576, new_tokens=256)
    qnn = next(c for c in mid.ranked if c.device == "NPU:QNN")
    assert qnn.expected == pytest.approx(40 * 576 / 128 + 255 * 9.0, rel=0.05)
    with pytest.raises(NoEvidenceError, match="outside the measured 128-1024"):
        rank(frame, task="text2text", model="phi-mini", objective="latency", machine=HERE, prompt_tokens=4096,
             new_tokens=16)
    with pytest.raises(ConfigurationError, match="needs prompt_tokens and new_tokens"):
        rank(frame, task="text2text", model="phi-mini", objective="latency", machine=HERE)


def test_ties_within_noise_go_to_lower_memory_then_load_time() -> None:
    # the same true TPOT; seed 2 draws medians each inside the other's interval (7 of seeds 0-9 do)
    tied = {"a": ("onnxruntime_genai", "NPU:QNN", None, "int8", 40.0, 10.0, 900.0, 3.0),
            "b": ("openvino.genai", "NPU", None, "int8", 40.0, 10.0, 600.0, 6.0)}
    decision = rank(rows(HERE, tied, noise=0.05, seed=2), task="text2text", model="phi-mini", objective="tpot",
                    machine=HERE)
    assert decision.device == "NPU" and "tied within noise" in decision.reason
    c = dict(framework="f", environment="default", execution_provider=None, precision=None, threads=None,
             options={}, unit="ms", n=3, evidence="this machine")
    fast = Candidate(device="A", expected=1.0, ci_low=0.9, ci_high=1.1, peak_rss_mib=500, load_s=2.0, **c)
    same_mem = Candidate(device="B", expected=1.05, ci_low=0.95, ci_high=1.15, peak_rss_mib=500, load_s=1.0, **c)
    assert [x.device for x in order_candidates([fast, same_mem], "lower")] == ["B", "A"]
    # wide intervals of few noisy repetitions overlap, yet 8x apart is no tie (a real smoke store's case)
    quick = Candidate(device="OV", expected=3.5, ci_low=3.2, ci_high=31.8, peak_rss_mib=170, load_s=1.0, **c)
    slow = Candidate(device="ORT", expected=48.0, ci_low=24.0, ci_high=62.0, peak_rss_mib=90, load_s=1.0, **c)
    assert [x.device for x in order_candidates([slow, quick], "lower")] == ["OV", "ORT"]


def test_constraints_memory_precision_frameworks_devices() -> None:
    frame = rows(HERE)
    capped = rank(frame, task="text2text", model="phi-mini", objective="ttft", machine=HERE,
                  constraints=Constraints(max_memory_mib=1000))
    assert capped.device == "NPU" and any("over the cap" in e for e in capped.excluded)
    f16 = rank(frame, task="text2text", model="phi-mini", objective="tpot", machine=HERE,
               constraints=Constraints(precisions=("f16",)))
    assert f16.device == "NPU"
    only_cpu = rank(frame, task="text2text", model="phi-mini", objective="ttft", machine=HERE,
                    constraints=Constraints(devices=("CPU",)))
    assert only_cpu.device == "CPU" and not only_cpu.alternatives
    no_precision = rows(HERE).assign(precision=None)
    with pytest.raises(NoEvidenceError, match="unknown precision"):
        rank(no_precision, task="text2text", model="phi-mini", objective="ttft", machine=HERE,
             constraints=Constraints(precisions=("f32",)))


def test_evidence_is_matched_to_the_machine_and_labelled() -> None:
    frame = rows(HERE)
    upgraded = profile(runtimes={"default": {"onnxruntime-qnn": "1.33.0", "openvino": "2026.4.1"}})
    with pytest.raises(StaleEvidenceError, match="other runtime versions"):
        rank(frame, task="text2text", model="phi-mini", objective="ttft", machine=upgraded)
    stale = rank(frame, task="text2text", model="phi-mini", objective="ttft", machine=upgraded, allow_stale=True)
    assert stale.stale and "STALE" in stale.reason
    twin = profile(host="synthetic-twin")
    labelled = rank(frame, task="text2text", model="phi-mini", objective="ttft", machine=twin)
    assert labelled.winner.evidence == "same hardware class (other machine)"
    other_hw = profile(cpu="Another CPU")
    with pytest.raises(NoEvidenceError, match="only on other hardware"):
        rank(frame, task="text2text", model="phi-mini", objective="ttft", machine=other_hw)
    with pytest.raises(NoEvidenceError, match="this model content"):
        rank(frame, task="text2text", model="phi-mini", objective="ttft", machine=HERE, model_hash="other")


def test_bad_input_is_one_documented_error() -> None:
    frame = rows(HERE)
    with pytest.raises(ConfigurationError, match="unknown objective 'fast'"):
        rank(frame, task="text2text", model="phi-mini", objective="fast", machine=HERE)
    with pytest.raises(ConfigurationError, match="does not apply to task 'text2text'"):
        rank(frame, task="text2text", model="phi-mini", objective="image", machine=HERE)
    with pytest.raises(NoEvidenceError, match="no successful measurement of model 'nope'"):
        rank(frame, task="text2text", model="nope", objective="ttft", machine=HERE)
    with pytest.raises(NoEvidenceError):
        rank(frame.iloc[:0], task="text2text", model="phi-mini", objective="ttft", machine=HERE)


def test_static_order_without_evidence() -> None:
    c = dict(framework="f", environment="default", execution_provider=None, precision=None, threads=None,
             options={}, expected=math.nan, ci_low=math.nan, ci_high=math.nan, unit="", peak_rss_mib=None,
             load_s=None, n=0, evidence="none")
    decision = static_decision("text2text", "m", "ttft", [Candidate(device=d, **c) for d in ("CPU", "GPU.1", "NPU")])
    assert [x.device for x in decision.ranked] == ["NPU", "GPU.1", "CPU"] and decision.static
    assert "not a measurement" in decision.reason
    assert len(TARGETS) == 4


def test_cold_counts_the_empty_cache_load_where_a_target_that_compiles_recorded_it() -> None:
    """An NPU that loads in 1 s from its warm cache but compiles for 30 s on an app's first start loses the cold
    objective to a GPU that loads in 2 s every time; rows of stores older than schema 6 count their load_s."""
    frame = rows(HERE)
    npu = frame["device"] == "NPU"
    frame.loc[npu, "load_s"] = 1.0
    frame = frame.assign(load_cold_s=float("nan"))
    before = rank(frame, task="text2text", model="phi-mini", objective="cold", machine=HERE, calls=1)
    assert before.device == "NPU" and before.winner.load_s == 1.0  # no empty-cache figure: load_s it is
    frame.loc[npu, "load_cold_s"] = 30.0
    after = rank(frame, task="text2text", model="phi-mini", objective="cold", machine=HERE, calls=1)
    npu_candidate = next(c for c in after.ranked if c.device == "NPU")
    assert after.device == "GPU:DML" and npu_candidate.load_s == 30.0
    assert npu_candidate.expected == pytest.approx(30.0 + frame.loc[npu, "e2e_ms"].median() / 1000)


def test_the_note_to_install_another_environment_claims_a_gain_only_beyond_noise() -> None:
    c = dict(framework="onnxruntime", execution_provider=None, precision=None, threads=None, options={}, unit="ms",
             n=5, evidence="this machine")
    here = Candidate(device="CPU", environment="default", expected=10.0, ci_low=9.0, ci_high=11.0, peak_rss_mib=400,
                     load_s=1.0, **c)
    tied = Candidate(device="CPU:OpenVINO", environment="ort-openvino", expected=9.8, ci_low=9.2, ci_high=10.5,
                     peak_rss_mib=300, load_s=1.0, **c)
    faster = Candidate(device="CPU:OpenVINO", environment="ort-openvino", expected=5.0, ci_low=4.8, ci_high=5.3,
                       peak_rss_mib=300, load_s=1.0, **c)
    note = install_note(here, tied, "tpot")
    # within noise the note says so and what the target here lost the tie on, never "gain 1.0x"
    assert "install environment 'ort-openvino'" in note and "tied within noise on tpot" in note
    assert "more peak memory (400 vs 300 MiB)" in note and "better" not in note
    assert install_note(here, faster, "tpot").endswith("2.00x better on tpot than onnxruntime CPU here")
    # a rate: higher is better, so the gain is the winner's over the one here
    rate = dict(c, unit="items/s")
    slow_rate = Candidate(device="CPU", environment="default", expected=50.0, ci_low=48.0, ci_high=52.0,
                          peak_rss_mib=400, load_s=1.0, **rate)
    fast_rate = Candidate(device="CPU:OpenVINO", environment="ort-openvino", expected=150.0, ci_low=145.0,
                          ci_high=155.0, peak_rss_mib=300, load_s=1.0, **rate)
    assert "3.00x better on throughput" in install_note(slow_rate, fast_rate, "throughput")
