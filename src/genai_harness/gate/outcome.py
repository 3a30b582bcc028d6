"""What a finished comparison means for a gate (pure): a regression, rows left unresolved, or a pass, and whether
unresolved rows fail the job under ``--on-inconclusive`` (exit 16). Shared by ``compare``, ``ab``, their JUnit
files and the pytest plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genai_harness.errors import ComparisonError
from genai_harness.gate.units import ONE_JOB_A_SIDE

if TYPE_CHECKING:
    import pandas as pd


def flagged(comparison: pd.DataFrame, column: str) -> pd.Series:
    """Per row, whether its ``column`` flag (``unresolved``, ``blind``) is set: False where it is missing or NaN."""
    if column not in comparison.columns:
        return comparison["verdict"].map(lambda _: False)
    return comparison[column].fillna(False).astype(bool)


ONE_JOB_FALSE_REGRESSIONS = "3-13.5 %"
"""How often a test of runs called unchanged code a regression when each side was one job of runs in a row, on the
quiet machines of benchmarks/RESULTS.md ("Runs of a side taken in a row", "The job level, a second pool")."""


def one_job_a_side(comparison: pd.DataFrame) -> bool:
    """True when some row's runs were counted singly because every side was one job: the drift between jobs was
    not measured (``gate.units.ONE_JOB_A_SIDE`` in its ``tested_on``)."""
    return bool(comparison["tested_on"].str.contains(ONE_JOB_A_SIDE, regex=False).any())


def has_regression(comparison: pd.DataFrame) -> bool:
    """True when any cell and metric is a regression."""
    return bool((comparison["verdict"] == "regression").any())


ON_INCONCLUSIVE = ("auto", "fail", "warn", "pass")
"""What a gate does when nothing regressed but some rows are ``unresolved`` (inconclusive at or beyond the
threshold, or untested): auto (exit 16 when a row could hide a :data:`BLIND_SLOWDOWN` slowdown, its ``blind``;
else a warning line, exit 0), fail (exit 16 on any), warn (a line, exit 0) or pass (exit 0)."""
ON_INCONCLUSIVE_DEFAULT = "auto"
"""A 1.5x slowdown must never exit 0, and an unchanged build should rarely fail. On 80 real separate runs of a
five-cell suite on a quiet machine and 40 at load 12-30 (benchmarks/RESULTS.md, "The gate on a quiet machine"),
``auto`` and ``fail`` alike let no 1.5x or 2x slowdown exit 0 at 3, 5 or 10 runs a side, while unchanged builds
failed under ``fail`` in 86 / 67.5 / 48.5 % of quiet comparisons and under ``auto`` in 66 / 17.5 / 0 %:
``fail`` also fails on point estimates beyond the threshold that are the runs' noise, ``auto`` only where the
runs could hide 1.5x."""


FAILING_COLUMN = {"fail": "unresolved", "auto": "blind"}
"""Per ``--on-inconclusive`` policy, the row flag that fails the gate (exit 16) when no row regressed."""


def inconclusive_fails(comparison: pd.DataFrame, on_inconclusive: str) -> bool:
    """Whether the comparison's unresolved rows fail the gate under ``on_inconclusive`` (pure): ``fail`` on any
    unresolved row, ``auto`` on a ``blind`` one (its runs could hide a 1.5x slowdown), ``warn``/``pass`` never."""
    if on_inconclusive not in ON_INCONCLUSIVE:
        raise ComparisonError(f"--on-inconclusive must be one of {', '.join(ON_INCONCLUSIVE)}, got {on_inconclusive!r}")
    column = FAILING_COLUMN.get(on_inconclusive)
    return column is not None and bool(flagged(comparison, column).any())


def gate_outcome(comparison: pd.DataFrame) -> str:
    """``regression`` (any row), else ``unresolved`` (any inconclusive row at or beyond its threshold, or
    untested), else ``pass`` (every row equivalent, improved, or inconclusive within its threshold) (pure)."""
    if has_regression(comparison):
        return "regression"
    if bool(flagged(comparison, "unresolved").any()):
        return "unresolved"
    return "pass"


def gate_fails(comparison: pd.DataFrame, on_inconclusive: str) -> bool:
    """Whether the gate fails (exit 1 or 16) under ``on_inconclusive`` (pure): a regression, or unresolved rows
    that fail under that policy (:func:`inconclusive_fails`)."""
    outcome = gate_outcome(comparison)
    return outcome == "regression" or (outcome == "unresolved" and inconclusive_fails(comparison, on_inconclusive))
