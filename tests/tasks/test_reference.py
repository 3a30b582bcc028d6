"""Agreement with the reference as pure functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genai_harness.tasks import reference


@pytest.mark.parametrize(("ids", "ref", "share", "first"), [
    ([1, 2, 3, 4], [1, 2, 3, 4], 1.0, 4),
    ([1, 2, 9, 4], [1, 2, 3, 4], 0.75, 2),
    ([9, 2, 3, 4], [1, 2, 3, 4], 0.75, 0),
    ([1, 2], [1, 2, 3, 4], 0.5, 2),
    ([], [], 1.0, 0),
])
def test_token_agreement(ids: list[int], ref: list[int], share: float, first: int) -> None:
    assert reference.token_agreement(ids, ref) == (share, first)


def test_psnr() -> None:
    a = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    assert math.isinf(reference.psnr_db(a, a))
    b = a.copy()
    b[0, 0, 0, 0] = 255  # one of 48 values off by full scale: MSE = 255^2 / 48
    assert reference.psnr_db(b, a) == pytest.approx(10 * math.log10(48))
    with pytest.raises(ValueError, match="differ in shape"):
        reference.psnr_db(a, a[:, :2])


def test_classification_agreement() -> None:
    ref = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert reference.classification_agreement(ref, ref) == (1.0, 0.0)
    top1, diff = reference.classification_agreement(np.array([[0.1, 0.9], [0.3, 0.7]]), ref)
    assert top1 == 0.5 and diff == pytest.approx(0.5)
