"""Running operator cells: models built once per spec, one worker process per environment runs many cells.

Before any cell runs, every spec's model is built (and checked) once, its inputs drawn and its reference
output computed with onnx's ReferenceEvaluator, all in this process. Then, environment by environment, a
worker process (``op = "operator_batch"``, :mod:`genai_harness.worker.operator_batch`) runs that
environment's cells in order and journals each. The parent reads the journal as it grows: each finished
cell becomes its rows (one per repetition) in the store at once. A worker that dies in a cell makes that
cell ``crashed`` (how it died, in the OS's words); one that runs past a cell's timeout makes it ``timeout``;
either way a fresh worker continues with the cells left. A runtime that refuses the model makes the cell
``failed`` with the runtime's own words.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from genai_harness.analysis.keys import cell_label as row_cell_label
from genai_harness.analysis.summary import cell_summary
from genai_harness.errors import ConfigurationError, WorkerProtocolError, WorkloadError
from genai_harness.results.store import ResultStore
from genai_harness.runner.cell_loop import RunContext, placement_columns
from genai_harness.runner.launcher import WorkerProcess, describe_exit, last_line
from genai_harness.runner.operator_plan import OperatorCell, OperatorPlan
from genai_harness.runner.progress import Progress
from genai_harness.runner.signals import interrupt_reason, signals_deferred
from genai_harness.worker.protocol import (
    CellStarted,
    ErrorReply,
    OperatorBatchReply,
    OperatorBatchRequest,
    OperatorCellReply,
    OperatorCellRequest,
    journal_entry_from_dict,
)
from genai_harness.workloads.operators.build import agreement, build_model, make_inputs
from genai_harness.workloads.operators.reference import shared_reference
from genai_harness.workloads.operators.spec import OPERATOR_TASK, TOLERANCE, OperatorSpec, validate_spec

CELL_TIMEOUT_S = 300.0
"""How long one operator cell may run (load, warm-up and repetitions) before it is killed as a timeout."""
WORKER_START_S = 60.0
"""How long a fresh worker may take to import its runtime and start its first cell."""


@dataclass(frozen=True)
class PreparedSpec:
    """A spec's model, inputs and reference output, made once and shared by every target."""

    spec: OperatorSpec
    model_path: Path
    feeds_path: Path
    reference: np.ndarray
    model_hash: str
    spec_hash: str


def model_id(spec: OperatorSpec) -> str:
    """The operator a cell's model holds, domain-qualified: ``ai.onnx.Attention-24``, ``com.microsoft.
    GroupQueryAttention``, ``ai.onnx.preview.FlexAttention`` (expanded: ``...FlexAttention.expanded``)."""
    domain = spec.resolved_domain or "ai.onnx"
    op = spec.operator.replace("Expanded", ".expanded")
    return f"{domain}.{op}" + (f"-{spec.resolved_opset}" if domain == "ai.onnx" else "")


def prepare_specs(specs: list[OperatorSpec], folder: Path) -> dict[str, PreparedSpec]:
    """Build, check and save each spec's model and inputs under ``folder``; compute its reference output (kept
    on disk, memory-mapped, so the runner holds one spec's work at a time).

    Raises the spec's WorkloadError (naming the field) before anything is run: a spec out of bounds before
    anything is allocated, one whose reference output is not finite once it is computed.
    """
    prepared: dict[str, PreparedSpec] = {}
    references: dict[OperatorSpec, np.ndarray] = {}
    for spec in specs:
        validate_spec(spec)
    for index, spec in enumerate(specs):
        if spec.name in prepared:
            continue
        model = build_model(spec)
        onnx.checker.check_model(model, full_check=spec.resolved_domain == "")
        model_path, feeds_path = folder / f"{index}.onnx", folder / f"{index}.npz"
        data = model.SerializeToString()
        model_path.write_bytes(data)
        feeds = make_inputs(spec)
        np.savez(feeds_path, **feeds)
        del feeds, model
        spec_text = json.dumps({k: v for k, v in vars(spec).items() if k != "score_mod"}, sort_keys=True) + (
            spec.score_mod.graph.hex() if spec.score_mod else "")
        with np.errstate(all="ignore"):  # a score_mod's overflow is judged below, not warned about on stderr
            reference = _on_disk(shared_reference(spec, references), folder / f"{index}.reference.npy")
        if not np.isfinite(reference).all():  # never blame a runtime for the reference's own NaN
            field = "score_mod" if spec.score_mod is not None else "variant"
            raise WorkloadError(f"operator spec {spec.name}: onnx's reference output holds NaN or inf, so no runtime "
                                f"could be judged against it; fix field {field!r} (the scores it gives are not finite)")
        for key, value in references.items():  # the shared references too: memory holds one spec's work at a time
            if not isinstance(value, np.memmap):
                references[key] = _on_disk(value, folder / f"{index}.shared.npy")
        prepared[spec.name] = PreparedSpec(spec, model_path, feeds_path, reference, hashlib.sha256(data).hexdigest(),
                                           hashlib.sha256(spec_text.encode()).hexdigest()[:16])
    return prepared


def _on_disk(array: np.ndarray, path: Path) -> np.ndarray:
    """``array`` saved to ``path`` and read back memory-mapped (read-only)."""
    np.save(path, array)
    return np.load(path, mmap_mode="r")


def cell_label(cell: OperatorCell) -> str:
    """The label the store's plan and ``results`` use for ``cell``: ``framework device[@env] | workload | model``
    (:func:`~genai_harness.analysis.long_view.cell_label` of its rows, so a run's unfinished cells are found)."""
    return row_cell_label({"framework": cell.framework, "device": cell.device.label,
                           "environment": cell.environment.name, "workload_id": cell.spec.name,
                           "model_id": model_id(cell.spec)})


def base_row(cell: OperatorCell, prepared: PreparedSpec, context: RunContext) -> dict[str, Any]:
    """The identity columns of every row of an operator cell (pure)."""
    return {
        **placement_columns(context, cell.environment, cell.device),
        "framework": cell.framework, "runtime": cell.runtime, "task": OPERATOR_TASK,
        "workload_id": cell.spec.name, "workload_version": 1,
        "workload_hash": prepared.spec_hash, "model_id": model_id(cell.spec), "model_format": "onnx",
        "model_hash": prepared.model_hash, "precision_requested": {"float32": "f32", "float16": "f16"}[cell.spec.dtype],
    }


def measured_rows(cell: OperatorCell, prepared: PreparedSpec, context: RunContext, reply: OperatorCellReply,
                  output: np.ndarray, peak_gflops: float) -> list[dict[str, Any]]:
    """One row per repetition: latency, GFLOP/s, fraction of the matmul peak, agreement with the reference."""
    abs_err, rel_err, within = agreement(cell.spec, output, prepared.reference)
    atol, rtol = TOLERANCE[cell.spec.dtype]
    shared = {
        **base_row(cell, prepared, context), "status": "ok", "load_s": reply.load_s,
        "peak_rss_mb": reply.peak_rss_mb, "actual_device": reply.actual_device, "precision": reply.precision,
        "ref_max_abs_error": abs_err if math.isfinite(abs_err) else None,
        "ref_max_rel_error": rel_err if math.isfinite(rel_err) else None, "ref_within_tolerance": int(within),
    }
    native = {"flops": cell.spec.flops(), "matmul_peak_gflops": peak_gflops, "tolerance": {"atol": atol, "rtol": rtol},
              "output_shape": list(output.shape), "reference_shape": list(prepared.reference.shape)}
    rows = []
    for index, ms in enumerate(reply.times_ms):
        gflops = cell.spec.flops() / (ms / 1000.0) / 1e9
        rows.append({**shared, "repetition": index, "inference_ms": ms, "gflops_per_s": gflops,
                     "peak_fraction": gflops / peak_gflops, "native_metrics": json.dumps(native, sort_keys=True)})
    return rows


def failed_row(cell: OperatorCell, prepared: PreparedSpec, context: RunContext, status: str, error: str,
               error_type: str) -> dict[str, Any]:
    """The one row of an operator cell that produced no measurement (pure)."""
    return {**base_row(cell, prepared, context), "status": status, "error": error, "error_type": error_type}


@dataclass
class CellEnd:
    """How one cell of a batch ended: its reply, or a refusal, an error, a crash or a timeout."""

    index: int
    reply: OperatorCellReply | None = None
    status: str = "ok"
    error: str = ""
    error_type: str = ""
    seconds: float = 0.0


def run_batches(requests: list[OperatorCellRequest], python: Path, folder: Path,
                timeout_s: float = CELL_TIMEOUT_S, on_start: Any = None) -> Iterator[CellEnd]:
    """Run ``requests`` (cells of one environment) in worker processes of ``python``; yield each cell's end.

    A worker that dies or hangs costs the cell it was in; a fresh worker takes the rest.
    """
    pending = list(range(len(requests)))
    attempt = 0
    while pending:
        attempt += 1
        journal = folder / f"journal-{attempt}.jsonl"
        batch = OperatorBatchRequest(str(journal), [requests[i] for i in pending])
        with WorkerProcess(python, batch, folder, f"-{attempt}") as worker:  # leaving it kills the worker
            yield from _follow(worker, journal, requests, pending, timeout_s, on_start)


def _follow(worker: WorkerProcess, journal: Path, requests: list[OperatorCellRequest], pending: list[int],
            timeout_s: float, on_start: Any) -> Iterator[CellEnd]:
    """Read one worker's journal until it exits; remove every cell that ended from ``pending``."""

    def lost() -> int:
        """The cell a dead or killed worker cost: the one it was in, else the next it would have taken."""
        victim = current if current is not None else pending[0]
        if current is None and on_start:
            on_start(victim)
        pending.remove(victim)
        return victim

    by_id = {requests[i].id: i for i in pending}
    read = 0
    current: int | None = None
    started = time.monotonic()
    while True:
        returncode = worker.poll()
        complete = journal.read_text().split("\n")[:-1] if journal.exists() else []  # whole lines only
        for line in complete[read:]:
            entry = journal_entry_from_dict(json.loads(line))
            if isinstance(entry, CellStarted):
                current, started = by_id[entry.id], time.monotonic()
                if on_start:
                    on_start(current)
                continue
            index = by_id[entry.id]
            pending.remove(index)
            current = None
            seconds = time.monotonic() - started
            if entry.refused is not None:
                yield CellEnd(index, None, "failed", entry.refused, "OperatorNotSupported", seconds)
            elif entry.reply is None:
                yield CellEnd(index, None, "failed", entry.error or "", entry.error_type, seconds)
            else:
                yield CellEnd(index, entry.reply, seconds=seconds)
        read = len(complete)
        if returncode is not None:
            break
        limit = timeout_s if current is not None else WORKER_START_S
        if time.monotonic() - started > limit:
            worker.stop()
            what = "cell" if current is not None else "worker start"
            yield CellEnd(lost(), None, "timeout", f"{what} ran past its {limit:g} s timeout; killed",
                          "CellTimeoutError", time.monotonic() - started)
            return
        time.sleep(0.01)
    if current is not None or pending:  # died in a cell, or ended without taking the next: that cell is lost
        victim = lost()
        words = last_line(worker.stderr_text())
        with contextlib.suppress(WorkerProtocolError):  # the error the worker caught, if it wrote one
            reply = worker.read_reply(OperatorBatchReply)
            if isinstance(reply, ErrorReply):
                words = f" ({reply.message[:300]})"
        yield CellEnd(victim, None, "crashed", f"the worker died in this cell: {describe_exit(returncode)}"
                      f"{words}", "CellError", time.monotonic() - started)


def run_operator_plan(plan: OperatorPlan, prepared: dict[str, PreparedSpec], store: ResultStore,
                      context: RunContext, progress: Progress, written: list[dict[str, Any]],
                      peak_gflops: float, timeout_s: float = CELL_TIMEOUT_S) -> None:
    """Run every cell of ``plan``, environment by environment; rows go to the store as each cell ends."""
    groups: dict[str, list[OperatorCell]] = {}
    for cell in plan.cells:
        groups.setdefault(cell.environment.name, []).append(cell)
    with tempfile.TemporaryDirectory(prefix="genai-harness-ops-") as tmp:
        for env_name, cells in groups.items():
            folder = Path(tmp, env_name)
            folder.mkdir()
            requests = [cell.request(i, str(prepared[cell.spec.name].model_path),
                                     str(prepared[cell.spec.name].feeds_path), str(folder / f"out-{i}.npy"))
                        for i, cell in enumerate(cells)]
            in_flight: list[int] = []

            def started(index: int, cells: list[OperatorCell] = cells, in_flight: list[int] = in_flight) -> None:
                in_flight[:] = [index]
                progress.start(cell_label(cells[index]))

            try:
                for end in run_batches(requests, cells[0].environment.python, folder, timeout_s, started):
                    in_flight.clear()
                    cell = cells[end.index]
                    prep = prepared[cell.spec.name]
                    if end.reply is not None:
                        output = np.load(requests[end.index].output)
                        rows = measured_rows(cell, prep, context, end.reply, output, peak_gflops)
                        detail = cell_summary(rows)
                        if not rows[0]["ref_within_tolerance"]:
                            detail += f"; WRONG RESULT: max abs error {rows[0]['ref_max_abs_error']}"
                    else:
                        rows = [failed_row(cell, prep, context, end.status, end.error, end.error_type)]
                        detail = end.error[:200]
                    with signals_deferred():
                        store.append(rows)
                    written += rows
                    progress.finish(end.status, end.seconds, detail)
            except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM/SIGHUP: the cell in flight is interrupted
                if in_flight:
                    cell = cells[in_flight[0]]
                    row = failed_row(cell, prepared[cell.spec.name], context, "interrupted",
                                     interrupt_reason(exc), "Interrupted")
                    with signals_deferred():
                        store.append([row])
                    written.append(row)
                    progress.finish("interrupted", 0.0)
                raise


def check_operator_options(*, models: list[str] | None, precision: str | None, threads: int | None,
                           reference: bool, slowdown: float | None, ray_address: str | None) -> None:
    """Refuse, before anything runs, the run options an operator suite has no use for (a ConfigurationError)."""
    del reference  # every operator cell is checked against onnx's ReferenceEvaluator anyway
    given = [name for name, value in (("--model", models), ("--precision", precision), ("--threads", threads),
                                      ("--inject-slowdown", slowdown), ("--ray", ray_address)) if value]
    if given:
        raise ConfigurationError(f"{given[0]} does not apply to an operator suite: its models are built from the "
                                 "specs, each spec names its dtype, and its cells run on this machine; "
                                 f"drop {given[0]} or set the field in an operator suite file")
