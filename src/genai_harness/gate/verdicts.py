"""The verdict of one row of a comparison, as pure rules: what its numbers show, and whether it may pass in silence.

A row is ``regression`` or ``improvement`` only when significant and beyond its threshold, ``equivalent`` only when
its interval lies inside the band, else ``inconclusive``; an inconclusive row is ``unresolved`` (it cannot pass in
silence) when its point estimate is at or beyond the threshold or it is ``blind`` (:func:`could_hide`).
"""

from __future__ import annotations

import math

VERDICTS = ("regression", "improvement", "equivalent", "inconclusive", "only in baseline", "only in current")
"""What a row shows: ``regression`` (worse by at least its threshold, significant after Holm), ``improvement``
(better by that factor, significant), ``equivalent`` (the 95 % interval of the ratio lies inside the band
``1/threshold .. threshold``: shown unchanged), ``inconclusive`` (neither shown; ``unresolved`` says whether its
point estimate is at or beyond the threshold, or no spread between runs could judge it), or a cell on one side."""


def verdict(slowdown: float, p_family: float, slowdown_low: float, slowdown_high: float, *,
            threshold: float, alpha: float) -> str:
    """The verdict of one cell and metric (pure): its slowdown (> 1 is worse), the p-value adjusted over the
    comparison, and the 95 % interval of the slowdown (NaN when the runs could not be tested)."""
    significant = math.isfinite(p_family) and p_family < alpha
    if significant and slowdown >= threshold:
        return "regression"
    if significant and slowdown <= 1.0 / threshold:
        return "improvement"
    if 1.0 / threshold < slowdown_low and slowdown_high < threshold:  # NaN compares False: never shown
        return "equivalent"
    return "inconclusive"


BLIND_SLOWDOWN = 1.5
"""An inconclusive row whose 95 % interval reaches this slowdown is unresolved even when its point estimate lies
within the threshold: its runs could hide a slowdown a gate must never pass (on a loaded runner, where runs
differ by 2x, a 1.5x slowdown's estimate falls under 1.10 in a quarter of the rows)."""


def could_hide(verdict_: str, threshold: float, tested: bool, slowdown_high: float = math.nan) -> bool:
    """True for an inconclusive row whose runs could hide a :data:`BLIND_SLOWDOWN` slowdown (pure): its 95 %
    interval reaches it, or no spread between runs could judge it. Such a row is ``blind``; an unresolved row
    that is not blind has ruled 1.5x out and is only beyond the threshold in its point estimate."""
    return verdict_ == "inconclusive" and (not tested or slowdown_high >= max(BLIND_SLOWDOWN, threshold))


def unresolved(verdict_: str, slowdown: float, threshold: float, tested: bool,
               slowdown_high: float = math.nan) -> bool:
    """True for an inconclusive row that cannot pass in silence (pure): its point estimate is at or beyond the
    threshold, or it is blind (:func:`could_hide`: its interval reaches :data:`BLIND_SLOWDOWN`, or no spread
    between runs could judge it)."""
    return could_hide(verdict_, threshold, tested, slowdown_high) or (
        verdict_ == "inconclusive" and not slowdown < threshold)
