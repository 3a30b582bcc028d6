"""The decoder convention table and the token choice: pure logic over names and logits (the real sessions are in
test_ort_llm_real.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_harness.backends import decoder_conventions as dc
from genai_harness.backends.sampling import next_token
from genai_harness.interface.text2text import SamplingConfig


def names(n: int, past: str = "past_key_values.%d.%s", present: str = "present.%d.%s",
          extra: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    inputs = ["input_ids", "attention_mask", *extra, *(past % (i, k) for i in range(n) for k in ("key", "value"))]
    outputs = ["logits", *(present % (i, k) for i in range(n) for k in ("key", "value"))]
    return inputs, outputs


@pytest.mark.parametrize("convention", dc.CONVENTIONS, ids=lambda c: c.name)
def test_each_convention_is_matched_with_its_layers(convention: dc.Convention) -> None:
    inputs = [convention.input_ids, convention.attention_mask,
              *(pattern % i for i in range(3) for pattern in (convention.past_key, convention.past_value))]
    outputs = [convention.logits,
               *(pattern % i for i in range(3) for pattern in (convention.present_key, convention.present_value))]
    found = dc.match(inputs, outputs)
    assert found is not None and found.convention == convention and found.n_layers == 3
    assert found.past_names[2] == (convention.past_key % 2, convention.past_value % 2)
    assert found.present_names[0] == (convention.present_key % 0, convention.present_value % 0)


def test_optional_inputs_are_fed_only_where_the_model_has_them() -> None:
    found = dc.match(*names(2, extra=("position_ids",)))
    assert found is not None and found.optional_inputs == ("position_ids",)
    assert dc.match(*names(2)).optional_inputs == ()  # type: ignore[union-attr]


@pytest.mark.parametrize("break_it", ["unknown input", "missing layer", "no present", "no mask"])
def test_a_decoder_outside_every_convention_is_not_matched(break_it: str) -> None:
    inputs, outputs = names(2)
    if break_it == "unknown input":
        inputs.append("token_type_ids")
    elif break_it == "missing layer":
        inputs = [n for n in inputs if not n.startswith("past_key_values.0.")]
    elif break_it == "no present":
        outputs = ["logits"]
    else:
        inputs.remove("attention_mask")
    assert dc.match(inputs, outputs) is None


def test_the_refusal_is_one_line_naming_what_it_has_and_what_was_expected() -> None:
    error = dc.refusal(Path("/m/model.onnx"), ["tokens", "past.0"], ["scores"])
    text = str(error)
    assert "\n" not in text and error.exit_code == 3
    assert "it has tokens, past.0 -> scores" in text
    assert "expected input_ids, attention_mask, past_key_values.0.key/past_key_values.0.value" in text
    assert "re-export it" in text


def test_the_decoder_file_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.onnx").write_bytes(b"x")
    assert dc.decoder_file(tmp_path) == tmp_path / "a.onnx"
    (tmp_path / "b.onnx").write_bytes(b"x")
    with pytest.raises(dc.ModelError, match=r"holds 2 \.onnx files"):
        dc.decoder_file(tmp_path)
    (tmp_path / "genai_config.json").write_text('{"model": {"decoder": {"filename": "b.onnx"}}}')
    assert dc.decoder_file(tmp_path) == tmp_path / "b.onnx"


logit_rows = st.lists(st.floats(-20, 20, allow_nan=False), min_size=2, max_size=40).map(
    lambda xs: np.asarray(xs, dtype=np.float32))


@settings(max_examples=60, deadline=None)
@given(logit_rows, st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_a_sampled_token_lies_in_the_top_k(logits: np.ndarray, k: int, seed: int) -> None:
    sampling = SamplingConfig(do_sample=True, temperature=0.7, top_k=k, top_p=1.0, rng_seed=seed)
    token = next_token(logits, sampling, np.random.default_rng(seed))
    assert logits[token] >= np.sort(logits)[::-1][min(k, logits.size) - 1]


@settings(max_examples=60, deadline=None)
@given(logit_rows, st.integers(0, 2**31 - 1))
def test_top_k_one_is_greedy_and_banned_ids_never_come(logits: np.ndarray, seed: int) -> None:
    greedy = next_token(logits, SamplingConfig(), np.random.default_rng(seed))
    assert greedy == int(np.argmax(logits))
    assert next_token(logits, SamplingConfig(do_sample=True, top_k=1), np.random.default_rng(seed)) == greedy
    assert next_token(logits, SamplingConfig(), np.random.default_rng(seed), banned={greedy}) != greedy
    sampled = next_token(logits, SamplingConfig(do_sample=True), np.random.default_rng(seed), banned={greedy})
    assert sampled != greedy


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    logits = np.log(np.asarray([0.5, 0.3, 0.15, 0.05], dtype=np.float64)).astype(np.float32)
    sampling = SamplingConfig(do_sample=True, top_p=0.7)
    drawn = {next_token(logits, sampling, np.random.default_rng(seed)) for seed in range(200)}
    assert drawn == {0, 1}  # 0.5 alone < 0.7; 0.5 + 0.3 reaches it
