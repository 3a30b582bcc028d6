"""Variant x target ranking as a pure function, on SYNTHETIC family stores (tests/support/variant_stores.py) standing
for an NPU and a GPU this machine lacks: memory caps only int4 fits, quality floors that exclude int4, unmeasured
quality, and why every alternative lost."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import assert_one_error_line, run_cli
from support.dispatch_stores import profile
from support.variant_stores import FAMILY, VARIANTS, family_rows

from genai_harness.commands.pick import render
from genai_harness.dispatch.decide import family_members
from genai_harness.dispatch.decision import Constraints
from genai_harness.dispatch.ranking import Dispatcher, rank
from genai_harness.errors import ConfigurationError, NoEvidenceError

HERE = profile()
FRAME = family_rows(HERE)
ALL = list(VARIANTS)


def decide(objective: str = "tpot", frame=FRAME, **constraints):
    return rank(frame, task="text2text", model=FAMILY, objective=objective, machine=HERE, variants=ALL,
                prompt_tokens=128, constraints=Constraints(**constraints))


def test_every_variant_x_target_is_one_choice_and_each_alternative_says_why_it_lost() -> None:
    decision = decide("tpot")
    assert (decision.winner.model_id, decision.device) == ("phi-mini-int4", "NPU")
    assert decision.winner.weight_precision.startswith("int4") and decision.winner.answer_share == 0.82
    assert "phi-mini-int4 on openvino.genai NPU" in decision.reason and "variant x target pairs" in decision.reason
    pairs = [(c.model_id, c.device) for c in decision.ranked]
    assert pairs == [("phi-mini-int4", "NPU"), ("phi-mini-int4", "CPU"), ("phi-mini-fp16", "NPU"),
                     ("phi-mini-fp16", "GPU:DML"), ("phi-mini", "CPU")]
    assert decision.winner.reason == ""
    slowest = decision.ranked[-1]
    assert slowest.reason.startswith("slower: ") and slowest.reason.endswith("x)")
    assert float(slowest.reason.split("(")[1].rstrip("x)")) == pytest.approx(30.0 / 5.0, rel=0.1)


def test_on_an_npu_with_a_memory_cap_int4_is_the_only_variant_that_fits() -> None:
    decision = decide("ttft", max_memory_mib=1000)
    assert (decision.winner.model_id, decision.device) == ("phi-mini-int4", "NPU")
    over = [e for e in decision.excluded if "over memory" in e]
    assert len(over) == 3 and any(e.startswith("phi-mini-fp16 on openvino.genai NPU f16: over memory: peak 1300 MiB")
                                  for e in over)


def test_a_quality_floor_excludes_int4_and_the_next_variant_wins() -> None:
    decision = decide("tpot", min_quality=0.9)
    assert (decision.winner.model_id, decision.device) == ("phi-mini-fp16", "NPU")
    assert "quality answers 0.98 >= floor 0.9" in decision.reason
    below = [e for e in decision.excluded if "quality below the floor" in e]
    assert len(below) == 2 and all(e.startswith("phi-mini-int4 on ") and "answers 0.82 < 0.9" in e for e in below)
    # the same floor on token agreement: int4 (0.61) is still out, fp16 (0.95) in
    agreement = decide("tpot", min_quality=0.9, quality_metric="agreement")
    assert agreement.winner.model_id == "phi-mini-fp16" and all("agreement 0.61" in e for e in agreement.excluded)
    # a floor int4 meets changes nothing
    assert decide("tpot", min_quality=0.8).winner.model_id == "phi-mini-int4"


def test_a_floor_nothing_meets_within_the_memory_cap_is_no_evidence_naming_each_reason() -> None:
    with pytest.raises(NoEvidenceError, match="no measured variant x target of 'phi-mini'") as caught:
        decide("tpot", min_quality=0.9, max_memory_mib=1000)
    message = str(caught.value)
    assert "over memory" in message and "quality below the floor" in message and "\n" not in message


def test_a_variant_never_measured_against_the_checkpoint_cannot_pass_a_floor() -> None:
    unmeasured = {**VARIANTS, "phi-mini-int4": (*VARIANTS["phi-mini-int4"][:2], None, None)}
    frame = family_rows(HERE, unmeasured)
    assert decide("tpot", frame).winner.model_id == "phi-mini-int4"  # no floor: quality is not asked
    floored = decide("tpot", frame, min_quality=0.5)
    assert floored.winner.model_id == "phi-mini-fp16"
    assert any("quality (answers) not measured" in e and "run --reference --model phi-mini-int4" in e
               for e in floored.excluded)


def test_variants_can_be_pinned_and_a_single_model_ranks_as_before() -> None:
    pinned = decide("tpot", variants=("phi-mini", "phi-mini-fp16"))
    assert pinned.winner.model_id == "phi-mini-fp16"
    assert sum("not allowed" in e for e in pinned.excluded) == 2
    single = rank(FRAME, task="text2text", model="phi-mini-int4", objective="tpot", machine=HERE)
    assert single.winner.model_id == "" and {c.device for c in single.ranked} == {"NPU", "CPU"}
    assert single.winner.answer_share == 0.82  # quality is read for a single model too


def test_a_dispatcher_keeps_families_and_single_models_apart() -> None:
    dispatcher = Dispatcher(FRAME, HERE)
    family = dispatcher.decide(task="text2text", model=FAMILY, objective="tpot", variants=ALL)
    alone = dispatcher.decide(task="text2text", model=FAMILY, objective="tpot")
    assert family.winner.model_id == "phi-mini-int4" and alone.device == "CPU" and len(alone.ranked) == 1


def test_an_unknown_quality_metric_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown quality metric 'nll'"):
        decide("tpot", min_quality=0.5, quality_metric="nll")


@settings(max_examples=60, deadline=None)
@given(floor=st.one_of(st.none(), st.floats(0.0, 1.0)), cap=st.one_of(st.none(), st.floats(300.0, 3000.0)),
       metric=st.sampled_from(["answers", "agreement"]), objective=st.sampled_from(["tpot", "ttft", "memory"]))
def test_the_winner_meets_every_constraint_and_every_candidate_is_ranked_or_excluded(
        floor: float | None, cap: float | None, metric: str, objective: str) -> None:
    total = sum(len(targets) for _weights, targets, _share, _agreement in VARIANTS.values())
    try:
        decision = decide(objective, min_quality=floor, max_memory_mib=cap, quality_metric=metric)
    except NoEvidenceError as exc:
        assert str(exc).count(": ") >= total  # every candidate named with its reason
        return
    for chosen in decision.ranked:
        assert cap is None or chosen.peak_rss_mib <= cap
        assert floor is None or chosen.quality(metric) >= floor
    assert len(decision.ranked) + len(decision.excluded) == total
    assert all(c.reason for c in decision.alternatives)


def test_family_members_need_two_variants_and_a_variant_id_is_no_family() -> None:
    models = [SimpleNamespace(id=i, family=f) for i, f in (
        ("smollm2-135m", "smollm2-135m"), ("smollm2-135m-int4", "smollm2-135m"), ("tiny-llm", None),
        ("solo", "solo"))]
    assert family_members(models, "smollm2-135m") == ["smollm2-135m", "smollm2-135m-int4"]
    assert family_members(models, "smollm2-135m-int4") == [] and family_members(models, "solo") == []


def test_pick_prints_which_variant_runs_where_and_why_the_others_lost() -> None:
    text = render(decide("tpot", min_quality=0.9), "answers")
    lines = text.splitlines()
    assert lines[0] == "pick: variant phi-mini-fp16 on openvino.genai NPU f16"
    assert "why not first" in text and "slower: " in text and "picked" in text
    assert sum(line.startswith("excluded: phi-mini-int4 on ") for line in lines) == 2


def test_pick_refuses_a_quality_floor_outside_zero_to_one(tmp_path) -> None:
    proc = run_cli("pick", "--task", "text2text", "--model", "tiny-llm", "--objective", "tpot", "--min-quality",
                   "90", "--store", str(tmp_path / "none.sqlite"))
    line = assert_one_error_line(proc, 2)
    assert "--min-quality 90 is not a share" in line
