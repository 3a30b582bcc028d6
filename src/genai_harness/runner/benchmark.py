"""The Python entry point ``genai_harness.run``: prepare the run (:mod:`genai_harness.runner.prepare`), then run
its cells, model or operator ones, storing the rows as each ends."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from genai_harness.analysis.coverage import coverage_counts, coverage_matrix
from genai_harness.analysis.summary import failures, summary_table
from genai_harness.backends.aliases import canonical_framework
from genai_harness.errors import ConfigurationError
from genai_harness.results.store import DEFAULT_STORE, resolve_store_spec
from genai_harness.runner.cell_loop import new_run_context, run_plan
from genai_harness.runner.fleet import ray_tasks
from genai_harness.runner.job import job_id
from genai_harness.runner.prepare import Prepared, Selection, prepare_run
from genai_harness.runner.progress import Progress
from genai_harness.runner.signals import signals_interrupt
from genai_harness.runner.valgrind import valgrind_path
from genai_harness.worker.protocol import INSTRUCTIONS, MEASURES
from genai_harness.workloads.operators.peak import matmul_peak_gflops
from genai_harness.workloads.operators.suites import load_operator_suite

if TYPE_CHECKING:
    import pandas as pd


Names = str | Sequence[str] | None
"""One name, or a list of names, or None for all."""


def name_list(value: Names, what: str) -> list[str] | None:
    """``"x"`` -> ``["x"]``, a list of names -> itself, None/empty -> None; anything else is refused."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(item, str) for item in items):
        raise ConfigurationError(f"{what} must be a name or a list of names, got {value!r}")
    empty = [item for item in items if not item.strip()]
    if empty:
        raise ConfigurationError(f"{what} {empty[0]!r} is empty; give a name (e.g. CPU, onnxruntime, tiny-llm) "
                                 "or leave the option out to use all")
    return list(items) or None


def run(suite: str = "smoke", *, frameworks: str | Sequence[str] | None = None,
        devices: str | Sequence[str] | None = None, models: str | Sequence[str] | None = None,
        store: str | Path | None = None, pythons: str | Sequence[str] | None = None,
        config: str | Path | None = None, progress: bool = True, stream: TextIO | None = None,
        precision: str | None = None, threads: int | None = None, reference: bool = False,
        inject_slowdown: float | None = None, ray_address: str | None = None, measure: str = "time",
        cold: bool = False, cold_start: bool | None = None, job: str | None = None) -> pd.DataFrame:
    """Run a suite on every usable device and return this run's rows as a DataFrame.

    ``suite`` is a shipped suite name, a suite file, or a single workload file (then ``models`` names
    what it runs on). ``frameworks``, ``devices``, ``models`` and ``pythons`` each take one name or a
    list; ``models`` takes catalog ids or model paths. Rows are appended to the store (default
    ``results/genai-harness.sqlite``) as each cell ends; the cells planned are recorded first, so a run
    cut short shows as unfinished in ``genai-harness results``. SIGTERM and SIGHUP end the run like
    Ctrl-C: the cell in flight is recorded as interrupted and :class:`~genai_harness.runner.signals.
    Terminated` (a KeyboardInterrupt) is raised.

    ``precision`` (default | f32 | bf16 | f16 | int8) and ``threads`` override every workload's ``[run]`` request;
    a runtime that cannot honour them refuses the cell (recorded as failed with the reason). ``reference``
    checks every cell against the f32 CPU reference of the same model and inputs (``ref_*`` columns).
    ``inject_slowdown`` (gate calibration, never on by default) stretches every measured span by that
    factor and records it in ``injected_slowdown``. ``ray_address`` schedules every cell on that Ray
    cluster (see :mod:`genai_harness.runner.fleet`); each node writes its rows to ``store``.
    ``measure="instructions"`` runs every cell under valgrind's callgrind with one compute thread and adds the
    ``instructions_*`` columns (:func:`check_measure`). ``cold`` empties each compiling target's compiled-model
    cache before its cell, so ``load_s`` is the empty-cache start (``load_cold_s``; see
    :mod:`genai_harness.worker.cold_start`). ``cold_start=False`` skips the extra cold-start loads (a run takes
    them once per compiling target and model): only what each cell's own load shows is recorded; None (the
    default): ``$GENAI_HARNESS_COLD_START`` (``on`` unless it says ``off``: :func:`check_cold_start`).
    ``job`` names the CI job or session the run belongs to (``job_id``; default ``$GENAI_HARNESS_JOB`` or the CI
    system's job id: :mod:`genai_harness.runner.job`): the gate averages one job's runs into one unit.
    """
    job = job_id(job, os.environ)  # a bad name is refused here, before the store is opened
    slowdown = check_slowdown(inject_slowdown)
    threads = check_measure(measure, threads)
    cold_start = check_cold_start(cold_start)
    out = stream or sys.stderr
    selection = Selection([canonical_framework(f) for f in name_list(frameworks, "framework") or []] or None,
                          name_list(devices, "device"), name_list(models, "model"), precision, threads)
    python_names = name_list(pythons, "python") or []
    operators = load_operator_suite(suite)  # an operator suite: its specs are validated here, before any cell
    if operators is not None and measure == INSTRUCTIONS:
        raise ConfigurationError("--measure instructions runs model suites only (smoke, client or a suite file); "
                                 "operator suites measure time")
    if operators is not None:
        # the runner of operator cells loads onnx (to build the operator models) only when an operator suite runs
        from genai_harness.runner.operator_loop import check_operator_options

        check_operator_options(models=selection.models, precision=precision, threads=threads, reference=reference,
                               slowdown=slowdown, ray_address=ray_address)
        return _run_operators(prepare_run(operators, selection, pythons=python_names, config=config, store=store,
                                          out=out), out, progress, job)
    prepared = prepare_run(suite, selection, pythons=python_names, config=config, store=store, out=out)
    plan, result_store = prepared.plan, prepared.store
    if reference:
        plan.cells = [dataclasses.replace(c, workload=dataclasses.replace(c.workload, reference=True))
                      for c in plan.cells]
    if slowdown is not None:
        plan.cells = [dataclasses.replace(c, inject_slowdown=slowdown) for c in plan.cells]
    plan.cells = [dataclasses.replace(c, measure=measure, cold=cold, cold_start=cold_start) for c in plan.cells]
    context = new_run_context(prepared.profile, prepared.env_versions, job)
    meter = Progress(len(plan.cells), out, progress)

    def measure(rows: list[dict[str, Any]]) -> None:
        if ray_address:
            ray_tasks.run_plan_on_ray(plan, result_store, resolve_store_spec(store, DEFAULT_STORE), context, meter,
                                      rows, ray_address)
        else:
            run_plan(plan, result_store, context, meter, rows)

    _drive_run(result_store, context.run_id, [cell.label for cell in plan.cells],
              f"run {context.run_id}: suite {prepared.suite.id}, {len(plan.cells)} cells, store "
              f"{result_store.location}", plan.skipped, measure, meter=meter, progress=progress, out=out)
    return result_store.read(run_id=context.run_id)


def _drive_run(result_store: Any, run_id: str, labels: list[str], header: str, skipped: Sequence[str],
              measure: Callable[[list[dict[str, Any]]], None], *, meter: Progress, progress: bool,
              out: TextIO) -> list[dict[str, Any]]:
    """Record the planned cells, say what runs, ``measure`` (appending each cell's rows) with SIGTERM/SIGHUP
    ending it like Ctrl-C, then print the summary and the failures; return the rows measured."""
    rows: list[dict[str, Any]] = []
    with signals_interrupt():
        result_store.record_plan(run_id, labels)
        meter.note(header)
        for line in skipped:
            meter.note(f"  not runnable here: {line}")
        try:
            measure(rows)
        except KeyboardInterrupt:
            if progress and rows:
                print(summary_table(rows), file=out)
            raise
    if progress:
        print("", file=out)
        print(summary_table(rows), file=out)
        for line in failures(rows):
            print(f"  {line}", file=out)
    return rows


def check_slowdown(factor: float | None) -> float | None:
    """``factor`` if it is a usable slowdown (finite, 0.1 to 100), else a ConfigurationError."""
    if factor is None:
        return None
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) \
            or not 0.1 <= factor <= 100:
        raise ConfigurationError(f"inject_slowdown must be a finite factor from 0.1 to 100 (1.10 = 10 % slower), "
                                 f"got {factor!r}")
    return float(factor)


COLD_START_VAR = "GENAI_HARNESS_COLD_START"
"""``off`` makes ``run`` skip the extra cold-start loads by default (a test session, a CI job that times steady speed
only); ``on`` (or unset) takes them."""


def check_cold_start(cold_start: bool | None) -> bool:
    """Whether a run takes the cold-start loads: ``cold_start`` where given, else :data:`COLD_START_VAR`'s word."""
    if cold_start is not None:
        return cold_start
    word = os.environ.get(COLD_START_VAR, "on").strip().lower()
    if word not in ("on", "off"):
        raise ConfigurationError(f"${COLD_START_VAR} is {word!r}; set it to on or off (or unset it)")
    return word == "on"


def check_measure(measure: str, threads: int | None) -> int | None:
    """The threads a run of ``measure`` asks for: ``threads`` for ``time``; one for ``instructions`` (an instruction
    count of several threads depends on how they were scheduled), which also needs valgrind. Anything else is a
    ConfigurationError."""
    if measure not in MEASURES:
        raise ConfigurationError(f"--measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    if measure != INSTRUCTIONS:
        return threads
    if threads not in (None, 1):
        raise ConfigurationError(f"--measure instructions runs one compute thread; drop --threads {threads}")
    valgrind_path()
    return 1


def _run_operators(prepared: Prepared, out: TextIO, progress: bool, job: str | None) -> pd.DataFrame:
    """An operator suite: models built and referenced once per spec, then every ONNX-taking target runs them."""
    # the runner of operator cells loads onnx (to build the operator models) only when an operator suite runs
    from genai_harness.runner.operator_loop import cell_label, prepare_specs, run_operator_plan

    suite_id, specs = prepared.suite
    plan, result_store = prepared.plan, prepared.store
    context = new_run_context(prepared.profile, prepared.env_versions, job)
    meter = Progress(len(plan.cells), out, progress)
    with tempfile.TemporaryDirectory(prefix="genai-harness-models-") as tmp:
        meter.note(f"suite {suite_id}: building {len(specs)} operator models and their reference outputs ...")
        built = prepare_specs(specs, Path(tmp))  # a spec that does not build fails here, before any cell
        peak = matmul_peak_gflops()
        _drive_run(result_store, context.run_id, [cell_label(cell) for cell in plan.cells],
                  f"run {context.run_id}: suite {suite_id}, {len(plan.cells)} cells ({len(specs)} operator specs), "
                  f"matmul peak {peak:.1f} GFLOP/s, store {result_store.location}", plan.skipped,
                  lambda rows: run_operator_plan(plan, built, result_store, context, meter, rows, peak),
                  meter=meter, progress=progress, out=out)
    if progress:
        matrix = coverage_matrix(result_store.read(run_id=context.run_id))
        if not matrix.empty:
            print("", file=out)
            print(coverage_counts(matrix).to_string(), file=out)
    return result_store.read(run_id=context.run_id)
