"""Both sides of a comparison holding the same rows: the same store or run named twice (through a symlink too), or
a history that holds the run it is compared with. A measurement compared with itself shows nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from genai_harness.analysis.keys import TARGET_COLUMNS
from genai_harness.errors import ComparisonError

if TYPE_CHECKING:
    import pandas as pd

ROW_IDENTITY: tuple[str, ...] = ("run_id", *TARGET_COLUMNS, "task", "workload_id", "model_id", "repetition")
"""What names one measured row: the same run's same cell and repetition read on both sides is the same row."""


def shared_rows(baseline: pd.DataFrame, current: pd.DataFrame) -> Any:
    """A boolean per row of ``current``: True where the same row (:data:`ROW_IDENTITY`) is also in ``baseline``
    (pure)."""
    columns = [c for c in ROW_IDENTITY if c in baseline.columns and c in current.columns]
    if "run_id" not in columns or not len(baseline) or not len(current):
        return np.zeros(len(current), dtype=bool)
    seen = {"\x1f".join(map(str, row)) for row in baseline[columns].itertuples(index=False)}
    return np.array(["\x1f".join(map(str, row)) in seen for row in current[columns].itertuples(index=False)],
                    dtype=bool)


def check_distinct(baseline: pd.DataFrame, current: pd.DataFrame, baseline_what: str, current_what: str, *,
                   allow_part: bool = False) -> Any:
    """Raise :class:`ComparisonError` when the two sides hold the same rows (the same store or run named twice,
    perhaps through a symlink), or any row of both when not ``allow_part`` (a history that holds the run it is
    compared with): a measurement compared with itself shows nothing. Returns :func:`shared_rows`."""
    shared = shared_rows(baseline, current)
    if not shared.any() or (allow_part and not shared.all()):
        return shared
    runs = sorted(set(current.loc[shared, "run_id"].astype(str)))
    what = "are the same rows" if shared.all() and len(baseline) == len(current) else "share rows"
    raise ComparisonError(
        f"{baseline_what} and {current_what} {what} ({int(shared.sum())} rows of run "
        f"{', '.join(runs[:3])}{' ...' if len(runs) > 3 else ''} on both sides: the same store or run named twice, "
        "perhaps through a symlink); compare two different runs (STORE@RUN_ID) or stores"
    )
