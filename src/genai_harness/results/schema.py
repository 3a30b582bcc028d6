"""The results schema: one row per measured repetition, the same columns in SQLite, pandas and files.

A failed cell (crash, timeout, error before any repetition) is recorded as one row with
``repetition`` null, its ``status`` and ``error``. JSON columns hold JSON text in every form
(SQLite, DataFrame, Parquet, CSV); :func:`genai_harness.results.store.expand_json` flattens one.

This module imports no pandas at module level: the run's parent process only writes rows.

Schema history (``SCHEMA_VERSION``):

* 0: the pre-release layout, without ``itl_p90_ms`` and ``native_metrics``.
* 1: adds ``itl_p90_ms`` and ``native_metrics``.
* 2: numerics read back from the runtime (``precision``, ``threads``, ``numerics`` ...), the requested
  ones, the batch the model took, energy, agreement with the f32 CPU reference, operator-cell
  error and GFLOP/s, ``injected_slowdown``; status ``skipped``; task ``operator``; and the
  ``planned_cells`` table (see :mod:`genai_harness.results.store`).
* 3: the same columns, normalized: what repeats within a cell is stored once in ``cells``; each row
  has a stable ``row_key`` so merging stores never duplicates a row (see
  :mod:`genai_harness.results.stores.layout`). Stores of versions 0-2 read as they are.
* 4: ``runtime`` (the runtime that executed the model, which a backend may reach through another
  package: OpenVINO's classification runs on ``openvino`` under the ``openvino.genai`` framework) and
  ``itl_by_position_ms`` (per cell, the median over repetitions of each inter-token gap). Both are
  cell columns; a row read from an older store has them null, and they join a row's identity only
  when set, so rows keep their ``row_key`` across the migration.
* 5: ``weight_precision`` (what the weights are for compute, read from the model files: ``int4 asym, block 32
  (MatMulNBits)``, ``int4 sym, group 128 (i4)``, ``float32`` ...) and ``kv_cache_precision`` (OpenVINO's
  KV_CACHE_PRECISION read back; the element type of an ONNX decoder's past key/values), beside ``precision``,
  the compute precision. Cell columns, null in rows of older stores, joining identity only when set.
  Also instruction counts per phase (``instructions_load``, ``instructions_prefill``, ``instructions_per_token``,
  ``instructions_per_step``, ``instructions_call``: executed instructions counted by valgrind's callgrind) and
  ``measure`` (a cell column: ``instructions`` for a cell run under valgrind, whose wall times are those of the
  simulation; null for a plain run). Additive, like 4.
  Also ``family`` (the checkpoint a model is a variant of: ``smollm2-135m`` for ``smollm2-135m-int4``) and
  ``model_weights`` (``real weights`` / ``random weights: speed only``) per cell; per row the reference's
  ``ref_source`` and, when it could not be had, ``ref_error``; the checkpoint's question-set score
  ``ref_answer_share`` over ``ref_questions`` questions and ``ref_nll`` / ``ref_nll_checkpoint``.
* 6: ``ep_library`` (plugin EP libraries: the library a plugin target's cell ran on, ``onnxruntime-ep-openvino
  1.8.1`` or ``NAME (config: PATH)``; null for every other target). A cell column, additive like 4 and 5.
  Also cold start and compiled-model caches (issue 22): ``compile_s`` (a load with no cache), ``load_cold_s`` (the
  load with an empty cache), ``load_warm_s`` (the load with the cache warm), ``cache_mib`` (the cache on disk),
  ``cache_key`` (its folder under the harness's cache: runtime version, device and driver, model),
  ``cache_state`` (how the cell's own load started: ``cold``, ``warm`` or ``off``), ``cache_hit`` (1 when the warm
  load read the cache) and ``cache_note`` (why a cache was not used). Row columns, null for a target that does
  not compile and in rows of older stores; additive, like 4 and 5.
  Also ``worker_session`` (issue 23, ``ab`` cheaper): the id of the worker process that
  measured a row when that worker served several ``ab`` rounds (``ab --rounds-per-worker``); null for a worker
  of one call. The gate counts a worker, not a round, as the independent unit (``gate.compare``).
  Also ``calib_ms`` (machine-speed calibration, issue 23): per row, the median wall time
  of a fixed calibration kernel the worker times at the cell's start and between its measured repetitions
  (:mod:`genai_harness.worker.calibration`); it touches no code under test, so ``compare`` can remove the
  machine's common slowness with it. Null in rows of older stores and of ``--measure instructions`` cells.
  Also The export matrix (issue 21), per cell: ``exporter`` and ``exporter_version`` (what
  made the model's files: ``onnxruntime-genai builder`` 0.18.0, ``optimum-intel``, ``mobius-onnx (onnx-standard)``),
  ``export_s`` (how long the export took), ``model_bytes`` (its files), ``op_census`` (JSON
  ``{domain: {op: nodes}}``) with ``ops_standard`` / ``ops_contrib`` (nodes in standard ONNX or OpenVINO opsets /
  in contrib or custom domains), and where the runtime reports node placement, ``ep_node_share`` (the share of
  nodes the execution provider took) and ``ep_fallback`` (what fell back, in the runtime's words).
* 7: ``job_id`` (issue 23, the job level of the gate): the CI job or session a run belongs to (``run --job``,
  ``$GENAI_HARNESS_JOB``, or the CI system's own job id: ``runner.job``); null when none was named. Runs taken in
  a row share the machine's drift over minutes, so the gate of separate runs averages each job's runs into one
  unit (``gate.compare``). A cell column, additive like 4-6.
* 8: ``load_cpu_s`` (issue 23, ``ab`` under load): the CPU seconds the worker's loading thread spent on the cell's
  own load, user and system, over the span ``load_s`` times; null under ``--measure instructions`` and in rows
  of older stores. On a busy machine a fresh process's load waits for a core as much as it works, so its wall time
  varies 2x between calls and its CPU time half as much: ``ab`` gates this one by default
  (``gate.metric_choice.paired_default_metrics``). A row column, additive like 4-7.
* 9: ``load_position`` (issue 23, ``ab`` sessions): 1 when the worker that measured the row loaded first in its
  ``ab --rounds-per-worker`` session, 2 when it loaded second, right after its partner; null for a worker of one
  call. A worker loaded second spends less on its load (onnxruntime-genai's load CPU -8 to -10 %), and the order
  alternates session by session, so the gate takes the order out of the load's test (``gate.compare``). A row
  column, additive like 4-8.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from genai_harness.errors import StoreError
from genai_harness.interface.tasks import ALL_TASKS
from genai_harness.workloads.operators.spec import OPERATOR_TASK

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 9
"""Version of the schema this harness writes; bump it with every column change (and add ``since``)."""

MIN_SCHEMA_VERSION = 0
"""Oldest schema version this harness reads (and migrates)."""

STATUSES = ("ok", "failed", "timeout", "crashed", "interrupted", "skipped")
"""``skipped``: the cell does not apply (a prompt longer than the model's context, say); ``error`` says why."""
TASKS = (*ALL_TASKS, OPERATOR_TASK)
"""What a row's ``task`` may be: a task of the common interface, or an operator suite's."""
SOURCE_COLUMN = "source_store"
"""Column :func:`~genai_harness.results.store.load_results` adds: the store file a row came from."""

_SQL = {"text": "TEXT", "json": "TEXT", "timestamp": "TEXT", "int": "INTEGER", "float": "REAL"}
_DTYPE = {
    "text": "string",
    "json": "string",
    "timestamp": "datetime64[us, UTC]",
    "int": "Int64",
    "float": "float64",
}


@dataclass(frozen=True)
class Column:
    """One column: its name, kind (text|json|timestamp|int|float) and the schema version that added it."""

    name: str
    kind: str
    since: int = 0

    @property
    def sql_type(self) -> str:
        """SQLite column type."""
        return _SQL[self.kind]

    @property
    def dtype(self) -> str:
        """pandas dtype of the column in a DataFrame."""
        return _DTYPE[self.kind]


def _cols(kind: str, *names: str, since: int = 0) -> tuple[Column, ...]:
    return tuple(Column(n, kind, since) for n in names)


COLUMNS: tuple[Column, ...] = (
    # identity
    *_cols("text", "run_id"),
    *_cols("timestamp", "run_started_at", "recorded_at"),
    *_cols("text", "harness_version"),
    *_cols("int", "schema_version"),
    # machine
    *_cols("text", "machine_fingerprint", "hostname"),
    *_cols("json", "machine_profile", "runtime_versions"),
    # where it ran
    *_cols("text", "environment", "python_executable", "framework", "device", "device_identifier"),
    *_cols("text", "runtime", since=4),
    *_cols("text", "execution_provider"),
    *_cols("json", "device_options"),
    *_cols("text", "actual_device"),
    # plugin EP libraries (issue 22, pluginep): the library that offered a plugin target's device (null otherwise)
    *_cols("text", "ep_library", since=6),
    # what ran
    *_cols("text", "task", "workload_id"),
    *_cols("int", "workload_version"),
    *_cols("text", "workload_hash", "model_id", "model_format", "model_hash"),
    *_cols("int", "repetition"),
    *_cols("text", "status", "error", "error_type"),
    # metrics (see DESIGN.md "Metrics")
    *_cols("float", "load_s", "ttft_ms", "tpot_ms", "itl_p50_ms"),
    *_cols("float", "itl_p90_ms", since=1),
    *_cols("float", "decode_tps", "prefill_tps", "e2e_ms"),
    *_cols("int", "n_input_tokens", "n_new_tokens"),
    *_cols("float", "image_ms", "step_ms", "inference_ms", "items_per_s"),
    *_cols("int", "batch_size"),
    *_cols("float", "peak_rss_mb"),
    *_cols("json", "native_metrics", since=1),
    # per cell: the median over repetitions of the gap between generated tokens i and i+1 (a JSON list, ms)
    *_cols("json", "itl_by_position_ms", since=4),
    # numerics: what the runtime actually ran with, read back after load (see DESIGN.md "Numerics")
    *_cols("text", "precision", "precision_requested", since=2),
    *_cols("int", "threads", "threads_requested", since=2),
    *_cols("text", "weight_dtypes", since=2),
    *_cols("text", "weight_precision", "kv_cache_precision", since=5),
    *_cols("json", "numerics", since=2),
    # what actually ran when it differs from what the workload asked
    *_cols("int", "batch_requested", since=2),
    # energy, where the machine exposes it (null otherwise; energy_source says why)
    *_cols("float", "energy_j", "energy_per_token_j", "energy_per_image_j", since=2),
    *_cols("text", "energy_source", since=2),
    # agreement with the f32 CPU reference of the same model and inputs
    *_cols("float", "ref_token_agreement", since=2),
    *_cols("int", "ref_first_divergence", since=2),
    *_cols("float", "ref_logits_max_diff", "ref_psnr_db", "ref_top1_agreement", "ref_max_score_diff", since=2),
    *_cols("float", "ref_max_abs_error", "ref_max_rel_error", since=2),
    *_cols("int", "ref_within_tolerance", since=2),
    # the reference a cell was checked against, why it could not be had, and the checkpoint's question set / NLL
    *_cols("text", "ref_source", "ref_error", since=5),
    *_cols("float", "ref_answer_share", since=5),
    *_cols("int", "ref_questions", since=5),
    *_cols("float", "ref_nll", "ref_nll_checkpoint", since=5),
    # which checkpoint a model is a variant of, and whether its weights are real
    *_cols("text", "family", "model_weights", since=5),
    # operator cells: achieved compute
    *_cols("float", "gflops_per_s", "peak_fraction", since=2),
    # gate calibration: factor each timed span was stretched by (null = none, the default)
    *_cols("float", "injected_slowdown", since=2),
    # --measure instructions: executed instructions per phase, counted under valgrind (null otherwise)
    *_cols("text", "measure", since=5),
    *_cols("float", *(INSTRUCTION_COLUMNS := ("instructions_load", "instructions_prefill", "instructions_per_token",
                                              "instructions_per_step", "instructions_call")), since=5),
    # cold start and compiled-model caches (issue 22 point 2): null where the target does not compile
    *_cols("float", *(COLD_START_METRICS := ("compile_s", "load_cold_s", "load_warm_s", "cache_mib")), since=6),
    *_cols("text", "cache_key", "cache_state", since=6),
    *_cols("int", "cache_hit", since=6),
    *_cols("text", "cache_note", since=6),
    # --- schema 6, issue 23 "ab cheaper" (helper abcheap): which worker served an ab round (one worker, many rounds)
    *_cols("text", "worker_session", since=6),
    # --- end of issue 23 "ab cheaper"
    # --- schema 6, machine-speed calibration (issue 23, helper runfactor): the cell's calibration kernel, median ms
    *_cols("float", "calib_ms", since=6),
    # --- end of machine-speed calibration
    # --- exports (issue 21): what made the model's files, its op census, and how much of it the EP took ---
    *_cols("text", "exporter", "exporter_version", since=6),
    *_cols("float", "export_s", "model_bytes", since=6),
    *_cols("int", "ops_standard", "ops_contrib", since=6),
    *_cols("json", "op_census", since=6),
    *_cols("float", "ep_node_share", since=6),
    *_cols("text", "ep_fallback", since=6),
    # --- end exports ---
    # the CI job (or session) a run belongs to: the gate's unit for runs taken in a row (schema 7)
    *_cols("text", "job_id", since=7),
    # the CPU time of the load beside its wall time (schema 8): ab gates it where a busy machine makes load_s a lottery
    *_cols("float", "load_cpu_s", since=8),
    # which of an ab session's two workers loaded first (schema 9): the gate takes the load order out of the load
    *_cols("int", "load_position", since=9),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
SQLITE_TYPES: dict[str, str] = {c.name: c.sql_type for c in COLUMNS}
PANDAS_DTYPES: dict[str, str] = {c.name: c.dtype for c in COLUMNS}
JSON_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "json")
TIMESTAMP_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "timestamp")
_FIRST_METRIC = COLUMN_NAMES.index("load_s")
METRIC_COLUMNS: tuple[str, ...] = (
    *COLUMN_NAMES[_FIRST_METRIC : COLUMN_NAMES.index("native_metrics")],
    "energy_j", "energy_per_token_j", "energy_per_image_j",
    "ref_token_agreement", "ref_first_divergence", "ref_logits_max_diff", "ref_psnr_db", "ref_top1_agreement",
    "ref_max_score_diff", "ref_max_abs_error", "ref_max_rel_error", "gflops_per_s", "peak_fraction",
    *INSTRUCTION_COLUMNS,
    "ref_answer_share", "ref_nll", "ref_nll_checkpoint",
    *COLD_START_METRICS,
    "load_cpu_s",
)
"""The measured metrics (the counts n_input_tokens, n_new_tokens, batch_size included)."""
NUMERIC_SETTING_COLUMNS: tuple[str, ...] = ("precision", "threads")
"""Columns that say under which numerics a figure was taken: part of every comparison's grouping."""
REQUIRED_COLUMNS = ("run_id", "status")
_BY_NAME = {c.name: c for c in COLUMNS}
IDENTITY_SINCE = 3
"""Columns added after this version join a row's identity only when set (see ``identity_values``)."""


def identity_values(record: Mapping[str, Any], names: Sequence[str]) -> list[Any]:
    """The values of ``names`` that make a record's identity (pure).

    Columns of schema 0-3 count by position; a column added later counts, as a ``[name, value]`` pair at the
    end, only when it is set, so a row written before the column existed keeps the identity it had.
    """
    values = [record[n] for n in names if _BY_NAME[n].since <= IDENTITY_SINCE]
    values.extend([n, record[n]] for n in names if _BY_NAME[n].since > IDENTITY_SINCE and record[n] is not None)
    return values


def columns_for_version(version: int) -> tuple[Column, ...]:
    """The columns a store of schema ``version`` has."""
    return tuple(c for c in COLUMNS if c.since <= version)


def _coerce(col: Column, value: Any) -> Any:
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if col.kind == "json":
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if col.kind == "float":
        if isinstance(value, (int, float)):
            return float(value)
        raise StoreError(f"column {col.name!r} takes a number, got {value!r}")
    if col.kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return int(value)
        raise StoreError(f"column {col.name!r} takes an integer, got {value!r}")
    if col.kind == "timestamp":
        return _timestamp(col.name, value)
    if isinstance(value, (str, PurePath)) or not isinstance(value, (Mapping, list, tuple, set, bytes)):
        return str(value)
    raise StoreError(f"column {col.name!r} takes text, got {type(value).__name__} {value!r}")


def _timestamp(name: str, value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise StoreError(f"column {name!r} takes a timezone-aware time, got naive {value!r}")
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise StoreError(f"column {name!r} takes an ISO-8601 time, got {value!r}") from None
        return value
    raise StoreError(f"column {name!r} takes an ISO-8601 time or datetime, got {value!r}")


def now_iso() -> str:
    """The current UTC time, ISO-8601 to the microsecond: the form of ``recorded_at`` (a row's identity is the digest
    of its columns, so two failures of one cell in one second must differ here to be two rows)."""
    return datetime.now(timezone.utc).isoformat()


def normalize_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``row`` with every schema column in order, missing ones None and values in storage form.

    JSON columns given a dict/list are JSON-encoded; numpy scalars become Python numbers; NaN
    metrics become None; ``schema_version`` defaults to :data:`SCHEMA_VERSION`. Raises
    :class:`StoreError` for unknown columns, a missing run_id/status, an unknown status or task,
    or a value of the wrong type.
    """
    unknown = sorted(set(row) - set(COLUMN_NAMES))
    if unknown:
        raise StoreError(f"unknown result column(s) {', '.join(unknown)}; the schema has: {', '.join(COLUMN_NAMES)}")
    out = {name: _coerce(_BY_NAME[name], row.get(name)) for name in COLUMN_NAMES}
    if out["schema_version"] is None:
        out["schema_version"] = SCHEMA_VERSION
    missing = [name for name in REQUIRED_COLUMNS if out[name] in (None, "")]
    if missing:
        raise StoreError(f"result row lacks required column(s) {', '.join(missing)}")
    if out["status"] not in STATUSES:
        raise StoreError(f"status {out['status']!r} is not one of {', '.join(STATUSES)}")
    if out["task"] is not None and out["task"] not in TASKS:
        raise StoreError(f"task {out['task']!r} is not one of {', '.join(TASKS)}")
    return out


def apply_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with every known column (schema + ``source_store``) cast to its schema dtype."""
    import pandas as pd  # the run's parent only writes rows: it never loads pandas (nor does the CLI start)

    df = df.copy()
    for name in df.columns:
        dtype = "string" if name == SOURCE_COLUMN else PANDAS_DTYPES.get(name)
        if dtype is None or str(df[name].dtype) == dtype:
            continue
        series = df[name]
        if dtype.startswith("datetime64"):
            series = pd.to_datetime(series.astype("object"), utc=True, format="ISO8601")
        elif dtype in ("Int64", "float64") and series.dtype == object:
            series = pd.to_numeric(series)
        df[name] = series.astype(dtype)
    return df


def frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The schema columns of ``df`` as row dicts ready for a store's ``append`` (nulls as None)."""
    present = [name for name in COLUMN_NAMES if name in df.columns]
    frame = df[present].astype(object)
    return frame.where(frame.notna(), None).to_dict("records")
