"""The benchmark run: every cell in its own subprocess, rows stored as each cell ends.

The parent imports no runtime. It plans the cells from each environment's inventory, runs each
cell in a worker subprocess of that cell's environment with the workload's timeout, and appends
the cell's rows to the store in one transaction. A cell that crashes, hangs or raises becomes one
failed row with its reason; the run goes on. Ctrl-C (or SIGTERM/SIGHUP) kills the running cell,
records it as interrupted and keeps everything finished before.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from genai_harness.analysis.metric_info import stretch
from genai_harness.analysis.summary import cell_summary
from genai_harness.backends.ort_placement import ep_placement_columns
from genai_harness.errors import CellError, CellTimeoutError, ContextLengthError, HarnessError, MeasurementError
from genai_harness.results.schema import SCHEMA_VERSION, now_iso
from genai_harness.results.store import ResultStore
from genai_harness.runner.launcher import WorkerOutcome, call_worker
from genai_harness.runner.plan import Cell, Plan
from genai_harness.runner.progress import Progress
from genai_harness.runner.signals import interrupt_reason, signals_deferred
from genai_harness.runner.valgrind import call_counted_worker
from genai_harness.version import __version__
from genai_harness.worker.protocol import INSTRUCTIONS, CellReply, CellRequest, ModelRef, RequestedNumerics
from genai_harness.workloads.export_info import export_info


@dataclass
class RunContext:
    """What every row of one run shares."""

    run_id: str
    run_started_at: str
    profile: dict[str, Any]
    env_versions: dict[str, dict[str, str]] = field(default_factory=dict)
    job_id: str | None = None
    """The CI job (or named session) the run belongs to (:mod:`genai_harness.runner.job`)."""


def new_run_context(profile: dict[str, Any], env_versions: dict[str, dict[str, str]],
                    job: str | None = None) -> RunContext:
    """A fresh run id and start time; ``job``: the job the run belongs to, as the entry point resolved it
    (``runner.job.job_id``: the option, the environment or the CI system)."""
    now = datetime.now(timezone.utc)
    run_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    return RunContext(run_id, now.isoformat(timespec="seconds"), profile, env_versions, job)


def cell_request(cell: Cell) -> CellRequest:
    """The worker request that runs ``cell``."""
    return CellRequest(framework=cell.framework, device=cell.device, workload=cell.workload,
                       model=ModelRef(str(cell.model_format.path), cell.model.id, cell.model_format.key),
                       environment=cell.environment.name, numerics=RequestedNumerics(cell.precision, cell.threads),
                       measure=cell.measure, cold=cell.cold, cold_start=cell.cold_start,
                       machine_speed=cell.machine_speed)


REFERENCE_ALLOWANCE_S = 1800.0
"""Seconds a cell's worker may take beyond the workload's timeout when it also checks a reference."""


def call_cell_worker(cell: Cell) -> WorkerOutcome[CellReply]:
    """Run ``cell`` in a worker of its environment with its workload's timeout: under callgrind when it measures
    instructions. A reference check (the checkpoint's prompts and question set) runs after the measurement, in
    the same worker: it gets its own allowance, so a slow check cannot turn measured rows into a timeout."""
    call = call_counted_worker if cell.measure == INSTRUCTIONS else call_worker
    timeout = cell.workload.timeout_s + (REFERENCE_ALLOWANCE_S if cell.workload.reference else 0.0)
    return call(cell.environment, cell_request(cell), timeout, what=f"cell {cell.label}")


def placement_columns(context: RunContext, environment: Any, device: Any) -> dict[str, Any]:
    """The columns every row of a run shares, and where its cell ran: run, machine, environment, device (pure).

    Model cells and operator cells both start their rows from these."""
    options = {k: v for k, v in device.config.items() if k != "label_suffix"}
    return {
        "run_id": context.run_id,
        "run_started_at": context.run_started_at,
        "job_id": context.job_id,
        "recorded_at": now_iso(),
        "harness_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "machine_fingerprint": context.profile.get("fingerprint", ""),
        "hostname": context.profile.get("hostname", ""),
        "machine_profile": json.dumps(context.profile, sort_keys=True),
        "runtime_versions": json.dumps(context.env_versions.get(environment.name, {}), sort_keys=True),
        "environment": environment.name,
        "python_executable": str(environment.python),
        "device": device.label,
        "device_identifier": device.identifier,
        "execution_provider": device.execution_provider,
        "device_options": json.dumps(options, sort_keys=True),
        "ep_library": plugin_library(device.config.get("ep_library")),
    }


def plugin_library(library: Any) -> str | None:
    """``onnxruntime-ep-openvino 1.8.1`` or ``NAME (config: PATH)`` for a plugin target's library, else None."""
    if not isinstance(library, dict):
        return None
    if library.get("package"):
        return f"{library['package']} {library.get('version', '')}".strip()
    return f"{library.get('name', '?')} (config: {library.get('path', '?')})"


def base_row(cell: Cell, context: RunContext) -> dict[str, Any]:
    """The identity columns of every row of ``cell`` (pure)."""
    return {
        **placement_columns(context, cell.environment, cell.device),
        "framework": cell.framework,
        "task": cell.workload.task,
        "workload_id": cell.workload.id,
        "workload_version": cell.workload.version,
        "workload_hash": cell.workload.hash,
        "model_id": cell.model.id,
        "model_format": cell.model_format.key,
        "model_hash": cell.model_format.hash,
        "family": cell.model.family,
        "model_weights": cell.model.weights,
        "precision_requested": cell.requested_numerics[0],
        "threads_requested": cell.requested_numerics[1],
        "injected_slowdown": cell.inject_slowdown,
        "measure": cell.measure if cell.measure == INSTRUCTIONS else None,
        **export_info(cell.model_format.path).columns(),
    }


def measured_rows(cell: Cell, context: RunContext, outcome: WorkerOutcome[CellReply]) -> list[dict[str, Any]]:
    """One row per measured repetition (pure)."""
    reply = outcome.reply
    numerics = reply.numerics or {}
    shared = {
        "actual_device": reply.actual_device,
        "status": "ok",
        "load_s": reply.load_s,
        "load_cpu_s": reply.load_cpu_s,
        "peak_rss_mb": outcome.peak_rss_mb,
        "precision": numerics.get("precision"),
        "threads": numerics.get("threads"),
        "weight_dtypes": numerics.get("weight_dtypes") or None,
        "weight_precision": numerics.get("weight_precision"),
        "kv_cache_precision": numerics.get("kv_cache_precision"),
        "numerics": json.dumps(numerics.get("details", {}), sort_keys=True) if numerics else None,
        "energy_source": reply.energy_source,
        "runtime": (numerics.get("runtime") or cell.framework) if numerics else cell.framework,
        "itl_by_position_ms": reply.itl_by_position_ms,
        # where a backend reads node placement back (backends/ort_placement.py), the share its EP took
        **ep_placement_columns(numerics.get("details") or {}, _model_nodes(cell), cell.device.execution_provider),
        **(reply.reference or {}),
        **(reply.cold_start or {}),  # compile_s, load_cold_s, load_warm_s, cache_mib ... (targets that compile)
    }
    if reply.requested is not None:
        shared["precision_requested"] = reply.requested.precision
        shared["threads_requested"] = reply.requested.threads
    if cell.inject_slowdown is not None:
        shared.update(stretch({k: shared[k] for k in ("load_s", "load_cpu_s")}, cell.inject_slowdown))
        if shared["itl_by_position_ms"]:
            shared["itl_by_position_ms"] = [gap * cell.inject_slowdown for gap in shared["itl_by_position_ms"]]
    rows = []
    for index, record in enumerate(reply.repetitions):
        if cell.inject_slowdown is not None:
            record = stretch(record, cell.inject_slowdown)
        row = base_row(cell, context)
        row.update(shared)
        row.update({k: v for k, v in record.items() if k != "native_metrics"})
        row.update({
            "repetition": index,
            "native_metrics": json.dumps(record.get("native_metrics", {}), sort_keys=True),
        })
        if reply.versions:
            row["runtime_versions"] = json.dumps(reply.versions, sort_keys=True)
        rows.append(row)
    return rows


def _model_nodes(cell: Cell) -> int | None:
    info = export_info(cell.model_format.path).columns()
    return (info["ops_standard"] or 0) + (info["ops_contrib"] or 0) or None


def failed_row(cell: Cell, context: RunContext, status: str, error: BaseException | str) -> dict[str, Any]:
    """The one row of a cell that produced no measurement (pure)."""
    row = base_row(cell, context)
    row.update({"status": status, "error": str(error), "error_type": type(error).__name__
                if isinstance(error, BaseException) else "Interrupted"})
    return row


def failed_export_rows(plan: Plan, context: RunContext) -> list[dict[str, Any]]:
    """The rows of the exports a build recorded as failed (family suites): no runtime ran them (pure)."""
    shared = {"run_id": context.run_id, "run_started_at": context.run_started_at, "job_id": context.job_id,
              "recorded_at": now_iso(), "harness_version": __version__,
              "schema_version": SCHEMA_VERSION, "machine_fingerprint": context.profile.get("fingerprint", ""),
              "hostname": context.profile.get("hostname", ""),
              "machine_profile": json.dumps(context.profile, sort_keys=True)}
    return [{**shared, **fragment} for fragment in plan.failed_exports]


def status_of(error: HarnessError) -> str:
    """The row status for an error a cell ended with (a cell that does not apply is ``skipped``)."""
    if isinstance(error, ContextLengthError):
        return "skipped"
    if isinstance(error, CellTimeoutError):
        return "timeout"
    if isinstance(error, MeasurementError):  # it ran, but its count cannot be trusted (runner/valgrind.py)
        return "failed"
    if isinstance(error, CellError):
        return "crashed"
    return "failed"


COLD_START_TAKEN_ONCE = ("compile_s", "load_cold_s", "load_warm_s", "cache_mib", "cache_hit")
"""Cold-start columns a run takes once per target and model (the first cell's extra loads) and gives its other
cells where their own load did not show them."""


def cold_start_group(cell: Cell) -> Hashable:
    """What one compiled cache serves: environment, framework, device, model files, numerics, ``--cold`` (pure)."""
    return (cell.environment.name, cell.framework, cell.device.label, str(cell.model_format.path),
            cell.requested_numerics, cell.cold)


def with_earlier_cold_start(rows: list[dict[str, Any]], earlier: dict[str, Any]) -> list[dict[str, Any]]:
    """``rows`` with the cold-start figures their cell's own load did not show taken from the run's first cell of
    the same target and model (``earlier``: its columns and ``workload_id``), said in ``cache_note`` (pure)."""
    filled = []
    for row in rows:
        missing = [name for name in COLD_START_TAKEN_ONCE if row.get(name) is None and earlier.get(name) is not None]
        if not missing or row.get("cache_key") is None:
            filled.append(row)
            continue
        note = f"{', '.join(missing)} from this run's cell {earlier['workload_id']} of the same target and model"
        filled.append({**row, **{name: earlier[name] for name in missing},
                       "cache_note": "; ".join(n for n in (row.get("cache_note"), note) if n)})
    return filled


def run_plan(plan: Plan, store: ResultStore, context: RunContext, progress: Progress,
             written: list[dict[str, Any]]) -> None:
    """Run every cell of ``plan``, appending each row written to ``written`` (kept on Ctrl-C, re-raised); the
    exports its builds recorded as failed are written first, one failed row each.

    A target that compiles takes its cold-start loads in the first cell of each model only; the run's later cells
    of that target and model record their own load and take the other figures from it (:func:`cold_start_group`)."""
    if plan.failed_exports:
        rows = failed_export_rows(plan, context)
        with signals_deferred():
            store.append(rows)
        written += rows
    taken: dict[Hashable, dict[str, Any]] = {}
    for cell in plan.cells:
        progress.start(cell.label)
        started = time.monotonic()
        earlier = taken.get(cold_start_group(cell))
        try:
            outcome = call_cell_worker(dataclasses.replace(cell, cold_start=False) if earlier else cell)
            rows = measured_rows(cell, context, outcome)
            if earlier:
                rows = with_earlier_cold_start(rows, earlier)
            elif cell.cold_start and rows and rows[0].get("compile_s") is not None:
                taken[cold_start_group(cell)] = {**{n: rows[0].get(n) for n in COLD_START_TAKEN_ONCE},
                                                 "workload_id": cell.workload.id}
            detail = summarize_rows(rows)
            status = "ok"
        except HarnessError as exc:
            status = status_of(exc)
            rows, detail = [failed_row(cell, context, status, exc)], str(exc)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (harness/signals.py)
            row = failed_row(cell, context, "interrupted", interrupt_reason(exc))
            with signals_deferred():
                store.append([row])
            written.append(row)
            progress.finish("interrupted", time.monotonic() - started)
            raise
        with signals_deferred():  # a finished cell's rows are written whole, even if a signal comes now
            store.append(rows)
        written += rows
        progress.finish(status, time.monotonic() - started, detail)


def summarize_rows(rows: list[dict[str, Any]]) -> str:
    """A one-line summary of a cell's repetitions (median of the headline metrics)."""
    return cell_summary(rows)
