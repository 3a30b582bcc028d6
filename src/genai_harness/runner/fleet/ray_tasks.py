"""Running cells as Ray tasks: the task body (on the node that has the device) and the scheduling loop.

Ray is imported only here and only when a fleet run starts; the plain install never needs it.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable
from typing import Any

from genai_harness.backends.registry import register_specs, specs_for_worker
from genai_harness.errors import DeviceUnavailableError, HarnessError
from genai_harness.host.fingerprint import machine_profile
from genai_harness.results.store import open_store
from genai_harness.runner.cell_loop import (
    RunContext,
    call_cell_worker,
    failed_row,
    measured_rows,
    status_of,
)
from genai_harness.runner.fleet.resources import device_resource, missing_devices
from genai_harness.runner.plan import Cell, Plan
from genai_harness.runner.progress import Progress

CONNECT_TIMEOUT_S = 30.0


def _ray() -> Any:
    try:
        import ray  # the optional extra genai-harness[fleet]: loaded only when a fleet run starts
    except ImportError as exc:
        raise HarnessError("run --ray needs Ray: pip install 'genai-harness[fleet]'") from exc
    return ray


def run_one_cell(cell: Cell, context: RunContext) -> tuple[list[dict[str, Any]], str]:
    """Run ``cell`` in its environment's worker subprocess here; its rows and status (a failure is one row)."""
    try:
        outcome = call_cell_worker(cell)
        return measured_rows(cell, context, outcome), "ok"
    except HarnessError as exc:
        status = status_of(exc)
        return [failed_row(cell, context, status, exc)], status


def cell_resource(cell: Cell) -> str:
    """The device resource ``cell`` needs."""
    return device_resource(cell.device.label, cell.environment.name)


def connect(address: str) -> Any:
    """Join the Ray cluster at ``address``; one clear error when nothing answers there."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    _probe(address)
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise HarnessError(f"no Ray cluster answers at {address} ({' '.join(str(exc).split())[:200]}); start one "
                           "with `genai-harness node --head` or give the address `ray status` shows") from None
    return ray


def _probe(address: str) -> None:
    """Fail fast when nothing listens at HOST:PORT (Ray itself retries for minutes)."""
    if address in ("auto", "local") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
            return
    except (OSError, ValueError) as exc:
        raise HarnessError(f"no Ray cluster answers at {address} ({exc}); start one with `genai-harness node "
                           "--head` on one machine and give its HOST:PORT") from None


def remote_cell(cell: Cell, context: RunContext, store_spec: str, backend_specs: list[dict[str, str]]
                ) -> tuple[list[dict[str, Any]], str, str]:
    """The task body, on the node that has the device: run the cell in this machine's worker subprocess,
    write its rows (this machine's fingerprint) to the store; return the rows, status and node id."""
    import ray  # the optional extra genai-harness[fleet]: this runs as a Ray task, so Ray is there

    register_specs(backend_specs)
    local = dataclasses.replace(context, profile=machine_profile())
    rows, status = run_one_cell(cell, local)
    open_store(store_spec).append(rows)
    return rows, status, ray.get_runtime_context().get_node_id()


def run_plan_on_ray(plan: Plan, store: Any, store_spec: str, context: RunContext, progress: Progress,
                    written: list[dict[str, Any]], address: str,
                    on_placed: Callable[[Cell, str], None] | None = None) -> None:
    """Run every cell of ``plan`` as a Ray task; a cell whose node died becomes one failed row with the reason."""
    ray = connect(address)
    offered = {name for node in ray.nodes() if node.get("Alive") for name in node.get("Resources", {})}
    missing = missing_devices((cell_resource(c) for c in plan.cells), offered)
    if missing:
        raise DeviceUnavailableError(f"no node of the Ray cluster at {address} offers {', '.join(missing)}; start "
                                     "`genai-harness node` on the machine that has it, or leave those cells out "
                                     "(--device)")
    task = ray.remote(remote_cell)
    specs = specs_for_worker()
    pending = {}
    for cell in plan.cells:
        ref = task.options(resources={cell_resource(cell): 1}, num_cpus=0, max_retries=0).remote(
            cell, context, store_spec, specs)
        pending[ref] = (cell, time.monotonic())
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        cell, started = pending.pop(done[0])
        progress.start(cell.label)
        try:
            rows, status, node = ray.get(done[0])
            if on_placed is not None:
                on_placed(cell, node)
        except ray.exceptions.RayError as exc:  # the node died, the task's worker crashed ...
            reason = f"the Ray node running this cell failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            rows, status = [failed_row(cell, context, "crashed", reason)], "crashed"
            store.append(rows)
        written += rows
        progress.finish(status, time.monotonic() - started)
