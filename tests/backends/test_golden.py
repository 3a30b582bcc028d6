"""The hand-written CLIP tokenizer and Euler scheduler against their reference implementations.

The golden values were made by ``tokenizers`` and diffusers' EulerDiscreteScheduler (the build toolchain,
tests/data/make_golden.py) from the bundled tiny-sd files, and are kept as data: a drift shows here, where
it starts, and not as a pixel difference between runtimes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genai_harness.backends import euler_scheduler as euler
from genai_harness.backends.clip_tokenizer import ClipTokenizer
from genai_harness.workloads.catalog import MODELS_DIR

DATA = Path(__file__).resolve().parents[1] / "data"
CLIP = json.loads((DATA / "golden_clip_tokenizer.json").read_text(encoding="utf-8"))
EULER = json.loads((DATA / "golden_euler.json").read_text())


@pytest.fixture(scope="module")
def tokenizer() -> ClipTokenizer:
    return ClipTokenizer.from_folder(MODELS_DIR / "tiny-sd/onnx/tokenizer")


def test_the_clip_tokenizer_matches_tokenizers_on_every_string(tokenizer: ClipTokenizer) -> None:
    wrong = [(text, tokenizer.encode(text), ids) for text, ids in CLIP["cases"] if tokenizer.encode(text) != ids]
    assert len(CLIP["cases"]) > 800
    assert not wrong, f"{len(wrong)} of {len(CLIP['cases'])} differ, e.g. {wrong[:3]}"


@pytest.mark.parametrize("text", ["x²", "km²", "½ cup of flour", "e\u0301 composed", "don't"])
def test_numbers_and_letters_are_told_apart_by_unicode_category(tokenizer: ClipTokenizer, text: str) -> None:
    """Where a regex approximation of \\p{L} and \\p{N} went wrong (superscripts, fractions, combining marks)."""
    assert tokenizer.encode(text) == {t: ids for t, ids in CLIP["cases"]}[text]


def test_a_call_wraps_in_start_and_end_and_pads(tokenizer: ClipTokenizer) -> None:
    ids = tokenizer("a red cat")
    assert len(ids) == tokenizer.max_length and ids[0] == tokenizer.bos
    body = tokenizer.encode("a red cat")
    assert ids[1:1 + len(body)] == body and ids[1 + len(body)] == tokenizer.eos


def schedule_cases() -> list[Any]:
    return [pytest.param(s, id=f"{s['config']}-{s['steps']}") for s in EULER["schedules"]]


@pytest.mark.parametrize("golden", schedule_cases())
def test_the_euler_schedule_matches_diffusers(golden: dict[str, Any]) -> None:
    schedule = euler.make_schedule(EULER["configs"][golden["config"]], golden["steps"])
    np.testing.assert_allclose(schedule.timesteps, golden["timesteps"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(schedule.sigmas, golden["sigmas"], rtol=1e-5, atol=0)  # a few float32 ulps
    assert schedule.init_noise_sigma == pytest.approx(golden["init_noise_sigma"], rel=1e-5)
    sample, noise = np.asarray(EULER["sample"], np.float32), np.asarray(EULER["noise"], np.float32)
    sigma, sigma_next = float(schedule.sigmas[0]), float(schedule.sigmas[1])
    np.testing.assert_allclose(euler.scale_model_input(sample, sigma), golden["scaled_first"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(euler.euler_step(sample, noise, sigma, sigma_next), golden["stepped_first"],
                               rtol=1e-5, atol=1e-5)
