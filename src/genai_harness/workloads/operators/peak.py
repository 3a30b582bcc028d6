"""This machine's measured matmul peak, the denominator of an operator cell's ``peak_fraction``."""

from __future__ import annotations

import time

import numpy as np


def matmul_peak_gflops(size: int = 1024, repeats: int = 20) -> float:
    """The best fp32 matmul rate numpy reaches here (``size`` square, best of ``repeats``), in GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size**3 / best / 1e9
