"""The ``load`` op in the worker, and how a cell's worker starts one: a pipeline built in a fresh process, timed.

A cell's cold-start loads (:mod:`genai_harness.worker.cold_start`) each run in a worker process of their own,
started here with this worker's own interpreter and environment (it dies with its parent, and a cell killed for its
timeout takes it along: it shares the cell's process group).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_harness.backends.base import Backend
from genai_harness.backends.registry import get_backend, specs_for_worker
from genai_harness.clock import Clock, default_clock, default_cpu_clock
from genai_harness.errors import CellError, CellTimeoutError
from genai_harness.interface.devices import Device
from genai_harness.worker.protocol import ErrorReply, LoadReply, LoadRequest, decode_reply, encode_request

FreshLoad = Callable[[Device], LoadReply]
"""Loads the cell's pipeline on a device in a fresh process and gives that process's answer."""


@dataclass(frozen=True)
class LoadTime:
    """How long a pipeline took to build: the wall clock's seconds (``load_s``) and the CPU seconds the loading thread
    spent over the same span, user and system (``load_cpu_s``; work the runtime hands to threads of its own is not in
    it; None where no CPU clock applies: under valgrind the clock counts instructions). On a busy machine a fresh
    process's load waits for a core as much as it works; its CPU time leaves the waiting out (benchmarks/RESULTS.md,
    "ab under load: the load's CPU time")."""

    wall_s: float
    cpu_s: float | None = None


def load_pipeline(backend: Backend, task: str, model_path: Path, device: Device, clock: Clock = default_clock,
                  cpu_clock: Clock | None = default_cpu_clock) -> tuple[Any, LoadTime]:
    """The ready pipeline and its load time (construction to ready; runtime import excluded): wall and, with a
    ``cpu_clock``, CPU."""
    backend.import_runtime()
    start, cpu_start = clock(), cpu_clock() if cpu_clock is not None else 0
    pipeline = backend.create_pipeline(task, model_path, device)
    load_s = (clock() - start) / 1e9
    cpu_s = (cpu_clock() - cpu_start) / 1e9 if cpu_clock is not None else None
    pipeline.clock = clock
    return pipeline, LoadTime(load_s, cpu_s)


def run_load(request: LoadRequest) -> LoadReply:
    """Build the requested pipeline once: its load time and, where the pipeline tells, whether it read the cache."""
    backend = get_backend(request.framework, request.environment)
    pipeline, took = load_pipeline(backend, request.task, Path(request.model_path), request.device)
    return LoadReply(took.wall_s, getattr(pipeline, "loaded_from_cache", None))


def fresh_loader(framework: str, task: str, model_path: Path, environment: str, timeout_s: float) -> FreshLoad:
    """A :data:`FreshLoad` for one cell: each call starts ``python -m genai_harness.worker`` on a ``load`` request."""

    def load(device: Device) -> LoadReply:
        request = LoadRequest(framework, task, device, str(model_path), environment)
        with tempfile.TemporaryDirectory(prefix="genai-harness-load-") as folder:
            request_path, response_path = Path(folder) / "request.json", Path(folder) / "response.json"
            request_path.write_text(json.dumps(encode_request(request, specs_for_worker())))
            try:
                done = subprocess.run([sys.executable, "-m", "genai_harness.worker", str(request_path),
                                       str(response_path)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
            except subprocess.TimeoutExpired:
                raise CellTimeoutError(f"a cold-start load ran past {timeout_s:g} s") from None
            if not response_path.exists():
                lines = [ln for ln in done.stdout.decode(errors="replace").splitlines() if ln.strip()]
                raise CellError(f"a cold-start load died (exit {done.returncode})"
                                + (f": {lines[-1].strip()[:300]}" if lines else ""))
            reply = decode_reply(json.loads(response_path.read_text()), LoadReply)
        if isinstance(reply, ErrorReply):
            raise reply.to_exception()
        return reply

    return load
