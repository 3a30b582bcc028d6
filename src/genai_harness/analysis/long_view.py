"""Frames by target and cell (keys: :mod:`genai_harness.analysis.keys`): row labels, the long view, one value per
worker call, per-cell statistics and each run's status.

Pure functions of a results DataFrame (as :func:`genai_harness.results.load_results` returns).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genai_harness.analysis.keys import (
    CELL_COLUMNS,
    CELL_LABEL_COLUMNS,
    TARGET,
    TARGET_COLUMNS,
    cell_label,
    target_label,
)
from genai_harness.analysis.metric_info import METRICS, MetricInfo, metric
from genai_harness.analysis.statistics import summarize

if TYPE_CHECKING:
    import pandas as pd

def row_labels(df: pd.DataFrame, columns: Sequence[str], label: Callable[[dict[str, Any]], str]) -> pd.Series:
    """``label`` of each row's ``columns`` (those present), computed once per distinct combination: a
    store's 100k rows hold a few hundred targets, so labelling each row on its own is the slow part."""
    import pandas as pd  # frames only: the CLI start and a run label rows without pandas

    present = [c for c in columns if c in df.columns]
    if not len(df):
        return pd.Series([], index=df.index, dtype="string")
    keys = df[present]
    hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy() if present else np.zeros(len(df), "uint64")
    codes, _ = pd.factorize(hashes)
    _, first = np.unique(codes, return_index=True)
    names = np.array([label(r) for r in keys.iloc[first].to_dict("records")], dtype=object)
    return pd.Series(names[codes], index=df.index, dtype="string")


def with_target(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``target`` column (the target key of each row)."""
    return df.assign(**{TARGET: row_labels(df, TARGET_COLUMNS, target_label)})  # copy-on-write: no deep copy


def measured_metrics(df: pd.DataFrame, metrics: Iterable[str] | None = None) -> list[MetricInfo]:
    """The metrics (known ones, of ``metrics`` or all) that have at least one value in ``df``."""
    names = list(metrics) if metrics is not None else list(METRICS)
    infos = [metric(n) for n in names]
    return [m for m in infos if m.name in df.columns and df[m.name].notna().any()]


LONG_KEEP: tuple[str, ...] = ("run_id", "run_started_at", "machine_fingerprint", "hostname", *TARGET_COLUMNS, "task",
                              "workload_id", "model_id", "model_hash", "repetition", "worker_session", "load_position",
                              "job_id")
"""The columns :func:`long_view` keeps beside each value unless told otherwise."""


def long_view(df: pd.DataFrame, metrics: Iterable[str] | None = None,
              keep: Sequence[str] = LONG_KEEP) -> pd.DataFrame:
    """One row per measured value of an ``ok`` row: the ``keep`` columns, ``target``, ``metric``, ``value``,
    ``unit`` and ``better``. For plotting and comparing.

    A cell-scope metric (load time, peak RSS, reference agreement: one value per worker call, repeated on
    each repetition's row) keeps one value per call, so it is never counted as several samples; an ``ab``
    side (one run id, one call per round) keeps one per round.
    """
    import pandas as pd  # frames only: the CLI start and a run label rows without pandas

    names = list(metrics) if metrics is not None else list(METRICS)
    used = [c for c in dict.fromkeys((*keep, *TARGET_COLUMNS, *names)) if c in df.columns]  # not the whole row
    frame = df[used].assign(**{CALL: call_index(df)})
    ok = with_target(frame.loc[df["status"] == "ok"] if "status" in df.columns else frame)
    infos = measured_metrics(ok, names)
    id_columns = [c for c in (*keep, TARGET, CALL) if c in ok.columns]
    if not infos:
        return pd.DataFrame(columns=[*id_columns, "metric", "value", "unit", "better"])
    rows = [np.flatnonzero(ok[info.name].notna().to_numpy()) for info in infos]
    values = [ok[info.name].to_numpy(dtype=float, na_value=np.nan)[r] for info, r in zip(infos, rows, strict=True)]
    # one take of the id columns for every metric at once (a take per metric is most of the cost on 100k rows)
    long = ok[id_columns].iloc[np.concatenate(rows)].reset_index(drop=True)
    long["value"] = np.concatenate(values)
    long["metric"] = np.repeat([info.name for info in infos], [len(r) for r in rows])
    long["unit"] = long["metric"].map({m.name: m.unit for m in infos})
    long["better"] = long["metric"].map({m.name: m.better for m in infos})
    per_cell = long["metric"].isin([m.name for m in infos if m.scope == "cell"])
    identity = [c for c in ("run_id", "machine_fingerprint", TARGET, "task", "workload_id", "model_id", CALL,
                            "metric") if c in long.columns]
    duplicate = per_cell & long.duplicated(subset=identity, keep="first")
    return long[~duplicate].drop(columns=CALL).reset_index(drop=True)


CALL = "_call"
"""long_view's working column: which worker call a row came from."""


def call_index(df: pd.DataFrame) -> Any:
    """A number per row naming its worker call (pure): a call's repetitions are numbered from 0 and stored
    together, so a repetition 0, or a new run id, starts the next call."""
    if not len(df):
        return np.zeros(0, dtype=np.int64)
    starts = np.zeros(len(df), dtype=bool)
    starts[0] = True
    if "run_id" in df.columns:
        runs = df["run_id"].astype(str).to_numpy()
        starts[1:] |= runs[1:] != runs[:-1]
    if "repetition" in df.columns:
        starts |= df["repetition"].eq(0).to_numpy(dtype=bool, na_value=False)
    return np.cumsum(starts)


def cell_statistics(df: pd.DataFrame, metrics: Iterable[str] | None = None,
                    by: Sequence[str] = CELL_COLUMNS) -> pd.DataFrame:
    """Per cell (``by``) and metric: n, median, p90, p99, mean, std and the median's bootstrap CI.

    Only ``ok`` rows count. Columns: ``by``, ``metric``, ``unit``, ``better``, then the statistics.
    """
    import pandas as pd  # frames only: the CLI start and a run label rows without pandas

    long = long_view(df, metrics)
    keys = [*by, "metric"]
    stats_columns = ["n", "median", "p90", "p99", "mean", "std", "ci_low", "ci_high"]
    if not len(long):
        return pd.DataFrame(columns=[*keys, "unit", "better", *stats_columns])
    missing = [c for c in by if c not in long.columns]
    for column in missing:
        long[column] = ""
    codes = long.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()  # numbered as first seen
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(codes.max() + 2))
    values = long["value"].to_numpy(dtype=float)[order]
    firsts = long[keys].iloc[order[bounds[:-1]]].to_dict("records")  # each group's key, one row per group
    records = []
    for i, key in enumerate(firsts):
        info = METRICS[key["metric"]]
        records.append({**key, "unit": info.unit, "better": info.better,
                        **summarize(values[bounds[i]:bounds[i + 1]]).to_dict()})
    return pd.DataFrame.from_records(records)


def run_status(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: started, rows, ok rows, cells, failed cells (any non-ok, non-skipped status), skipped cells."""
    import pandas as pd  # frames only: the CLI start and a run label rows without pandas

    if not len(df):
        return pd.DataFrame(columns=["run_id", "started", "rows", "cells", "failed", "skipped"])
    frame = pd.DataFrame({"run_id": df["run_id"].to_numpy(),
                          "ok": df["status"].eq("ok").fillna(False).to_numpy(dtype=bool),
                          "skipped": df["status"].eq("skipped").fillna(False).to_numpy(dtype=bool),
                          "cell": row_labels(df, CELL_LABEL_COLUMNS, cell_label).to_numpy()})
    per_cell = frame.groupby(["run_id", "cell"], sort=False)[["ok", "skipped"]].all()
    per_cell["failed"] = ~per_cell["ok"] & ~per_cell["skipped"]
    per_run = per_cell.groupby(level="run_id", sort=False).agg(cells=("ok", "size"), failed=("failed", "sum"),
                                                                skipped=("skipped", "sum"))
    runs = df.groupby("run_id", sort=False)
    out = pd.DataFrame({"run_id": per_run.index,
                        "started": runs["run_started_at"].first().reindex(per_run.index).to_numpy(),
                        "rows": runs.size().reindex(per_run.index).to_numpy(),
                        "cells": per_run["cells"].to_numpy(), "failed": per_run["failed"].to_numpy(),
                        "skipped": per_run["skipped"].to_numpy()})
    return out.astype({"rows": int, "cells": int, "failed": int, "skipped": int})


NUMERICS_COLUMNS: tuple[str, ...] = ("precision", "weight_precision", "kv_cache_precision", "threads")
"""What a cell ran under: compute precision, weights (as stored for compute), KV cache, threads."""


def numerics_by_cell(df: pd.DataFrame) -> pd.DataFrame:
    """Per target and model of the ok rows, the three precisions they record (and threads); empty for rows of
    stores older than schema 5, which record no ``weight_precision``."""
    import pandas as pd  # frames only: the CLI start and a run label rows without pandas

    if "weight_precision" not in df.columns or not df["weight_precision"].notna().any():
        return pd.DataFrame(columns=["target", "model_id", *NUMERICS_COLUMNS])
    ok = df[df["status"].eq("ok").fillna(False).to_numpy(dtype=bool)]
    frame = ok.assign(target=row_labels(ok, TARGET_COLUMNS, target_label))
    columns = ["target", "model_id", *(c for c in NUMERICS_COLUMNS if c in frame.columns)]
    return frame[columns].drop_duplicates().sort_values(["model_id", "target"]).reset_index(drop=True)



COLD_START_COLUMNS = ("compile_s", "load_cold_s", "load_warm_s", "cache_mib")
"""The cold-start figures of a target that compiles (schema 6), shown per target and model."""


def cold_start_by_target(df: pd.DataFrame) -> pd.DataFrame:
    """Per target and model of the ok rows that record a compiled cache: the median of each cold-start figure over
    its cells, the warm-cache loads that read the cache out of those measured, and the cache folders (pure). Empty
    where no target compiled (or the store predates schema 6)."""
    import pandas as pd  # frames only: the CLI start and a run label rows without pandas

    columns = ["target", "model_id", *COLD_START_COLUMNS, "warm loads from cache", "cache_key"]
    if "cache_key" not in df.columns or not df["cache_key"].notna().any():
        return pd.DataFrame(columns=columns)
    ok = df[(df["status"].eq("ok").fillna(False) & df["cache_key"].notna()).to_numpy(dtype=bool)]
    frame = ok.assign(target=row_labels(ok, TARGET_COLUMNS, target_label))
    cells = frame.drop_duplicates(["run_id", "target", "workload_id", "model_id"])
    out = []
    for (target, model), group in cells.groupby(["target", "model_id"], sort=True):
        hits = group["cache_hit"].dropna().astype(int) if "cache_hit" in group.columns else pd.Series(dtype=int)
        out.append({"target": target, "model_id": model,
                    **{c: group[c].astype("float64").median() for c in COLD_START_COLUMNS if c in group.columns},
                    "warm loads from cache": f"{int(hits.sum())} of {len(hits)}" if len(hits) else "",
                    "cache_key": "; ".join(sorted(set(group["cache_key"].astype(str))))})
    return pd.DataFrame(out, columns=columns)
