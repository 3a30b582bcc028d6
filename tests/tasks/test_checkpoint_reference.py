"""Agreement with the float32 checkpoint's stored reference: scoring as pure functions, and the replay on a
pipeline (a fake one here; tests/runner/test_model_build_real.py replays it on both real runtimes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax

from genai_harness.interface import text2text
from genai_harness.tasks import checkpoint_reference as cr


@pytest.mark.parametrize(("reply", "answers", "correct"), [
    ("The capital of France is Paris.", ["Paris"], True),
    ("paris", ["Paris"], True),
    ("Parisian food", ["Paris"], False),
    ("6 times 7 is 42.", ["42"], True),
    ("It is 420.", ["42"], False),
    ("New Delhi is the capital.", ["New Delhi", "Delhi"], True),
    ("I do not know.", ["Rome"], False),
])
def test_answer_is_correct(reply: str, answers: list[str], correct: bool) -> None:
    assert cr.answer_is_correct(reply, answers) is correct


def test_mean_nll_matches_log_softmax() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 11)) * 4
    targets = [3, 0, 10, 7, 7]
    expected = -np.mean(log_softmax(logits, axis=1)[np.arange(5), targets])
    assert cr.mean_nll(logits, targets) == pytest.approx(expected)


class _Scripted:
    """A pipeline that answers each prompt (by its ids) with scripted ids; decode joins them as words."""

    framework = "fake"

    def __init__(self, answers: dict[tuple[int, ...], list[int]], words: dict[int, str]) -> None:
        self.answers, self.words = answers, words

    def __call__(self, prompt: text2text.GenerationInput,
                 config: text2text.GenerationConfig) -> text2text.GenerationResult:
        ids = self.answers[tuple(prompt.token_ids or ())][:config.max_new_tokens]
        return text2text.GenerationResult(text="", token_ids=list(ids))

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.words[i] for i in ids)


def test_agreement_scores_prompts_questions_and_stops_at_eos() -> None:
    reference = {"weights": "real", "eos_token_id": 2,
                 "prompts": [{"input_ids": [5], "expected_ids": [7, 8, 9, 2], "max_new_tokens": 8},
                             {"input_ids": [6], "expected_ids": [7, 7, 2], "max_new_tokens": 8}],
                 "questions": {"max_new_tokens": 4, "kept": [
                     {"input_ids": [10], "answers": ["Paris"]}, {"input_ids": [11], "answers": ["Rome"]}]}}
    pipe = _Scripted({(5,): [7, 8, 9, 2, 4], (6,): [7, 3, 3, 3, 3, 3], (10,): [20, 2], (11,): [21, 2]},
                     {20: "Paris", 21: "Berlin"})
    row = cr.agreement(pipe, reference)
    # prompt 1 equal up to its end token; prompt 2 diverges at token 1 and runs on past the end (6 tokens: 1/6)
    assert row["ref_token_agreement"] == pytest.approx((1.0 + 1 / 6) / 2)
    assert row["ref_first_divergence"] == 1
    assert row["ref_answer_share"] == 0.5 and row["ref_questions"] == 2
    assert row["ref_source"] == cr.SOURCE_REAL and "ref_nll" not in row


def test_random_weights_reference_says_agreement_only(tmp_path: Path) -> None:
    reference = {"weights": "random", "eos_token_id": None,
                 "prompts": [{"input_ids": [1], "expected_ids": [4, 4], "max_new_tokens": 2, "forced": True}]}
    (tmp_path / cr.FILE).write_text(json.dumps(reference))
    row = cr.agreement(_Scripted({(1,): [4, 5]}, {}), cr.load(tmp_path))
    assert row == {"ref_source": cr.SOURCE_RANDOM, "ref_token_agreement": 0.5, "ref_first_divergence": 1}
    assert cr.load(tmp_path / "absent") is None
