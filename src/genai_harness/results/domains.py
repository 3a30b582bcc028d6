"""Values outside their metric's domain are not measurements: read from a store, they are set aside (null), named
in one warning, and never ranked or compared.

A negative duration, negative memory or a rate of zero or less can only come from a store that was edited or
written by something else; ``compare`` and ``pick`` would otherwise rank them (a TTFT of -1.5 ms wins). The
domains are the metric definitions' own (:class:`~genai_harness.tasks.metric.MetricInfo`, from each task and
:data:`~genai_harness.tasks.metric.COMMON_METRICS`).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from genai_harness.tasks.metric import COMMON_METRICS, MetricInfo
from genai_harness.tasks.registry import TASK_KINDS

if TYPE_CHECKING:
    import pandas as pd

SHOWN = 5
"""Values named in the warning before "and N more"."""


class OutOfDomainWarning(UserWarning):
    """Values read from a store lay outside their metric's domain and were set aside."""


def metric_domains() -> dict[str, MetricInfo]:
    """Every metric column with a domain: each task's metrics and those every row has."""
    infos = [*COMMON_METRICS, *(m for kind in TASK_KINDS.values() for m in kind.metrics)]
    return {m.name: m for m in infos if m.minimum is not None}


def _where(df: pd.DataFrame, index: object) -> str:
    import pandas as pd  # only where rows are read: opening or writing a store loads no pandas

    parts = []
    for column in ("run_id", "workload_id", "model_id", "framework", "device"):
        if column in df.columns and not pd.isna(df.at[index, column]):
            parts.append(f"{column.removesuffix('_id')} {df.at[index, column]}")
    return ", ".join(parts)


def set_aside_out_of_domain(df: pd.DataFrame, location: str) -> pd.DataFrame:
    """``df`` with every metric value outside its domain made null, and one :class:`OutOfDomainWarning` naming
    each such metric, its rows and the first of them (``location``: the store, for the message). ``df`` is
    changed in place and returned."""
    found: list[str] = []
    for name, info in metric_domains().items():
        if name not in df.columns or not len(df):
            continue
        values = df[name].astype("float64")
        bad = (values <= info.minimum) if info.minimum_excluded else (values < info.minimum)  # NaN: neither
        if not bad.any():
            continue
        rows = list(df.index[bad])
        shown = ", ".join(map(str, rows[:SHOWN])) + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")
        found.append(f"{name} must be {info.domain} but is not in {len(rows)} row(s) ({shown}; the first "
                     f"{values[rows[0]]:g}, {_where(df, rows[0])})")
        df.loc[bad, name] = None
    if found:
        warnings.warn(f"{location}: values outside their metric's domain set aside, never ranked or compared: "
                      f"{'; '.join(found)}; the store was edited or not written by genai-harness",
                      OutOfDomainWarning, stacklevel=3)
    return df
