"""Interleaved A/B runs: two environments, two model variants or two option sets, measured in one job.

Cells of side A and side B are paired (same framework, device, workload, and model or environment,
whichever is not the varied dimension) and run alternately, round after round (ABBA ABBA ...), each
call in its own worker process. Both sides then share the same minutes of the same machine, so a
noisy runner's drift falls on both alike; the compare that follows pairs them across the varied
dimension. This is the gate that survives a noisy CI runner, and the way to test a runtime upgrade.
No cell of ``ab`` times the machine-speed kernel (``calib_ms``): only separate runs need it, and it cost 0.11 s of
a 0.7 s call; nor takes a compiling target's extra cold-start loads (its compile and the empty- or warm-cache load
its own load was not: two fresh processes a call, which ``run`` records). With ``repetitions`` each call measures at
most that many repetitions after the workload's warm-ups (``ab --repetitions``; the gate keeps one median a call).

With ``rounds_per_worker`` K above 1, one worker per side serves K rounds of a pair (a *session*: each loads its
model once, then the rounds alternate ABBA on the loaded models; :mod:`genai_harness.runner.round_loop`): a round
then costs its measured calls, not a process start, imports and a model load. Rounds of one worker share what
that process drew, so the gate counts the worker pair, not the round, as the unit (``tested_on`` "paired
workers"), and the job sizes itself in whole sessions. A worker loads once, one right after the other, and the one
loading second may load cheaper: the load's test takes that order out (``tested_on`` "paired workers, load order
taken out").
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from genai_harness.analysis.keys import CELL_LABEL_COLUMNS, cell_label
from genai_harness.analysis.long_view import row_labels
from genai_harness.errors import ConfigurationError
from genai_harness.gate.compare import AB_REPETITIONS, AB_ROUNDS, MIN_REPETITIONS
from genai_harness.runner.benchmark import check_measure, check_slowdown
from genai_harness.runner.cell_loop import new_run_context, run_plan
from genai_harness.runner.job import job_id
from genai_harness.runner.plan import Cell, Plan
from genai_harness.runner.prepare import Selection, prepare_run
from genai_harness.runner.progress import Progress
from genai_harness.runner.round_loop import SessionRunner, session_plan
from genai_harness.worker.protocol import INSTRUCTIONS
from genai_harness.workloads.spec import MAX_REPETITIONS

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("env", "model", "opts")
IGNORED: dict[str, tuple[str, ...]] = {
    "env": ("environment",),
    "model": ("model_id",),
    "opts": ("precision", "threads"),
}
"""The columns that differ on purpose between the sides, per kind (compare pairs cells across them)."""
OPTION_KEYS = ("precision", "threads")


@dataclass(frozen=True)
class Side:
    """One side of an A/B run: ``env:NAME``, ``model:ID`` or ``opts:precision=bf16,threads=1``."""

    kind: str
    value: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, spec: str) -> Side:
        """Parse a side; a malformed one is a ConfigurationError naming the accepted forms."""
        kind, sep, value = spec.partition(":")
        forms = "env:NAME, model:ID or opts:precision=P,threads=N"
        if not sep or kind not in KINDS or not value.strip():
            raise ConfigurationError(f"A/B side {spec!r} is not one of {forms}")
        options: list[tuple[str, str]] = []
        if kind == "opts":
            for item in value.split(","):
                key, eq, val = item.partition("=")
                if not eq or key.strip() not in OPTION_KEYS or not val.strip():
                    raise ConfigurationError(f"A/B side {spec!r}: option {item!r} is not one of "
                                             f"{', '.join(k + '=...' for k in OPTION_KEYS)}")
                options.append((key.strip(), val.strip()))
        return cls(kind, value.strip(), tuple(options))

    @property
    def precision(self) -> str | None:
        """The side's precision option (opts only)."""
        return dict(self.options).get("precision")

    @property
    def threads(self) -> int | None:
        """The side's threads option (opts only)."""
        value = dict(self.options).get("threads")
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise ConfigurationError(f"A/B option threads={value!r} is not a whole number") from None

    def selection(self, frameworks: Sequence[str] | None, devices: Sequence[str] | None,
                  models: Sequence[str] | None) -> Selection:
        """What this side plans from the suite, within the job's filters: its environment alone, its model
        instead of ``models``, or its numerics options."""
        if self.kind == "env":
            return Selection(frameworks, devices, models, environment=self.value)
        if self.kind == "model":
            return Selection(frameworks, devices, [self.value])
        return Selection(frameworks, devices, models, precision=self.precision, threads=self.threads)


def pair_key(cell: Cell, kind: str) -> tuple[str, ...]:
    """What a cell of one side shares with its partner on the other (pure)."""
    if kind == "env":
        return (cell.framework, cell.device.label, cell.workload.id, cell.model.id)
    if kind == "model":
        return (cell.framework, cell.device.label, cell.environment.name, cell.workload.id)
    return (cell.label,)


def pair_cells(a: Sequence[Cell], b: Sequence[Cell], kind: str) -> list[tuple[Cell, Cell]]:
    """Cells of A matched with cells of B by :func:`pair_key`, in A's order (pure)."""
    by_key = {pair_key(cell, kind): cell for cell in b}
    return [(cell, by_key[pair_key(cell, kind)]) for cell in a if pair_key(cell, kind) in by_key]


def interleave(pairs: Sequence[tuple[Cell, Cell]], rounds: int, start: int = 0) -> list[tuple[int, Cell]]:
    """The order to run cells in: per round every pair, A then B in even rounds, B then A in odd (pure).

    Each item is (side index 0 = A / 1 = B, cell); ``start`` is the first round's index (more rounds of a job).
    """
    return interleave_each([(pair, start, rounds) for pair in pairs])


def interleave_each(plan: Sequence[tuple[tuple[Cell, Cell], int, int]]) -> list[tuple[int, Cell]]:
    """:func:`interleave` where each pair has its own first round and count: (pair, start, rounds) (pure).

    Round ``r`` of the job runs every pair that still has an ``r``-th round, each in its own ABBA phase.
    """
    order: list[tuple[int, Cell]] = []
    for offset in range(max((count for _, _, count in plan), default=0)):
        for (a, b), start, count in plan:
            if offset < count:
                order += [(0, a), (1, b)] if (start + offset) % 2 == 0 else [(1, b), (0, a)]
    return order


def more_rounds(needed: float, done: int, max_rounds: int) -> int:
    """How many rounds to add when the gate says it needs ``needed`` after ``done`` (pure): none when it has
    enough, or when no round count would do (``needed`` infinite or NaN); else up to ``needed`` and at most
    ``max_rounds`` in all, half again of ``done`` at a time so the noise is measured again on the way."""
    if not needed > done or needed == float("inf") or done >= max_rounds:
        return 0
    return max(1, min(math.ceil(needed), max_rounds, done + max(2, done // 2)) - done)


def whole_sessions(extra: int, done: int, max_rounds: int, per_worker: int) -> int:
    """``extra`` rounds rounded up to whole sessions of ``per_worker`` rounds, never past ``max_rounds`` (pure)."""
    if extra <= 0 or per_worker <= 1:
        return extra
    return min(math.ceil(extra / per_worker) * per_worker, max_rounds - done)


def check_whole(value: Any, option: str, low: int, high: int, *, low_name: str | None = None) -> int:
    """``value`` when it is a whole number from ``low`` to ``high``; else a ConfigurationError naming ``option``
    and the range (``low_name`` says what the lower end is, where it is another option)."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigurationError(f"{option} must be a whole number from {low_name or low} to {high}, got {value!r}")
    return value


def ab_cell(cell: Cell, slowdown: float | None, *, measure: str = "time",
            repetitions: int | None = AB_REPETITIONS) -> Cell:
    """``cell`` as ``ab`` runs it (pure): no machine-speed kernel (the module docstring), no cold-start loads (a
    compiling target's empty-cache and warm-cache loads, each a fresh process: ``run`` records them, and every ``ab``
    call taking them again doubled an openvino.genai round), the side's injected slowdown, with ``repetitions`` at
    most that many repetitions a call after the workload's own warm-ups (a ``min_time_s`` loop off, as the count is
    the point; None: the workload's own), and one compute thread under ``measure="instructions"`` (whose worker caps
    repetitions itself)."""
    if measure == INSTRUCTIONS:
        return dataclasses.replace(cell, inject_slowdown=slowdown, machine_speed=False, cold_start=False,
                                   measure=measure, threads=1)
    workload = cell.workload
    if repetitions is not None and (workload.repetitions > repetitions or workload.min_time_s):
        workload = dataclasses.replace(workload, repetitions=min(workload.repetitions, repetitions), min_time_s=0.0)
    return dataclasses.replace(cell, workload=workload, inject_slowdown=slowdown, machine_speed=False,
                               cold_start=False)


def run_ab(a: str, b: str, suite: str = "smoke", *, rounds: int = AB_ROUNDS, frameworks: Sequence[str] | None = None,
           devices: Sequence[str] | None = None, models: Sequence[str] | None = None,
           store: str | Path | None = None, pythons: Sequence[str] | None = None, config: str | Path | None = None,
           progress: bool = True, stream: TextIO | None = None,
           inject_slowdown: tuple[float | None, float | None] = (None, None), max_rounds: int | None = None,
           rounds_needed: Callable[[pd.DataFrame, pd.DataFrame, int], float] | None = None, measure: str = "time",
           rounds_per_worker: int = 1, repetitions: int | None = AB_REPETITIONS
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run sides ``a`` and ``b`` interleaved; return (A's rows, B's rows), each side its own run id in the store.

    ``inject_slowdown`` stretches one side's spans (gate calibration). Rows are written as each call ends.
    With ``max_rounds`` and ``rounds_needed`` (the gate's own estimate, from a pair's rows so far, of the rounds
    it needs to catch a 10 % slowdown), a pair that finds its runner noisier than ``rounds`` allows runs more
    rounds, up to ``max_rounds``: the round count follows the measured noise, never the measured effect, and
    each pair runs only the rounds its own noise asks for.

    ``measure="instructions"`` runs every call under valgrind with one compute thread (``runner.valgrind``); the
    counts barely vary between runs, so each pair runs one round and never more.

    ``repetitions`` caps the repetitions each call measures (:func:`ab_cell`; None: the workload's own).

    ``rounds_per_worker`` K > 1 keeps one worker per side alive for K rounds (see the module docstring); a job
    then runs at least ``MIN_REPETITIONS`` sessions (``rounds`` is raised to that), and more rounds come in whole
    sessions of K (the last one shorter at ``max_rounds``).
    """
    side_a, side_b = Side.parse(a), Side.parse(b)
    if side_a.kind != side_b.kind:
        raise ConfigurationError(f"A/B sides must vary one thing: {a!r} is {side_a.kind}, {b!r} is {side_b.kind}")
    if side_a == side_b:
        raise ConfigurationError(f"A/B sides are the same ({a!r}); name two environments, models or option sets")
    check_whole(rounds, "--rounds", 1, 1000)
    if max_rounds is not None:
        check_whole(max_rounds, "--max-rounds", max(rounds, 2), 1000, low_name=f"--rounds ({rounds}, at least 2)")
    per_worker = check_whole(rounds_per_worker, "--rounds-per-worker", 1, 1000)
    if per_worker > 1 and rounds < MIN_REPETITIONS * per_worker:  # the paired test needs this many workers a side
        rounds = MIN_REPETITIONS * per_worker
        max_rounds = None if max_rounds is None else max(max_rounds, rounds)
    if repetitions is not None:
        check_whole(repetitions, "--repetitions", 1, MAX_REPETITIONS)
    slowdowns = [check_slowdown(f) for f in inject_slowdown]
    job = job_id(None, os.environ)  # the job both sides' rows name: a bad $GENAI_HARNESS_JOB fails before the store
    if measure == INSTRUCTIONS:  # counts need no rounds to average their noise away (analysis/gate_rules)
        for side in (side_a, side_b):
            check_measure(measure, side.threads)
        rounds, max_rounds, rounds_per_worker = 1, None, 1
    check_measure(measure, None)
    filters = (frameworks, devices, models)
    prepared = prepare_run(suite, [side_a.selection(*filters), side_b.selection(*filters)], pythons=pythons or (),
                           config=config, store=store, out=stream or sys.stderr)
    pairs = pair_cells(prepared.plans[0].cells, prepared.plans[1].cells, side_a.kind)
    if not pairs:
        raise ConfigurationError(f"A/B: no cell of {a!r} has a partner in {b!r} (same framework, device, workload"
                                 f"{'' if side_a.kind == 'model' else ', model'}); check the filters")
    pairs = [(ab_cell(x, slowdowns[0], measure=measure, repetitions=repetitions),
              ab_cell(y, slowdowns[1], measure=measure, repetitions=repetitions)) for x, y in pairs]
    result_store = prepared.store
    contexts = [new_run_context(prepared.profile, prepared.env_versions, job) for _ in range(2)]
    written: list[dict[str, Any]] = []
    sessions = SessionRunner(result_store, contexts, Progress(0, stream, False), written)  # numbers every session

    def run_rounds(plan: list[tuple[tuple[Cell, Cell], int, int]], note: str) -> Progress:
        """Plan, announce and run the rounds of ``plan`` ((pair, first round, rounds)), each call its own worker."""
        order = interleave_each(plan)
        for index, context in enumerate(contexts):
            result_store.record_plan(context.run_id, [cell.label for side, cell in order if side == index])
        meter = Progress(len(order), stream or sys.stderr, progress)
        meter.note(note)
        if rounds_per_worker > 1:
            sessions.progress = meter
            for index, first, count in session_plan([(start, count) for _, start, count in plan], rounds_per_worker):
                sessions.run(plan[index][0], first, count)
            return meter
        for side, cell in order:
            run_plan(Plan([cell], []), result_store, contexts[side], meter, written)
        return meter

    served = f" ({rounds_per_worker} a worker: one unit of the test per worker pair)" if rounds_per_worker > 1 else ""
    meter = run_rounds([(pair, 0, rounds) for pair in pairs],
                       f"A/B {a} vs {b}: {len(pairs)} cell pairs x {rounds} rounds{served}, runs "
                       f"{contexts[0].run_id} (A) and {contexts[1].run_id} (B), store {result_store.path}")
    done = [rounds] * len(pairs)
    while max_rounds is not None and rounds_needed is not None:
        needs = pair_needs(pairs, [result_store.read(run_id=c.run_id) for c in contexts], rounds_needed)
        extras = [whole_sessions(more_rounds(need, count, max_rounds), count, max_rounds, rounds_per_worker)
                  for need, count in zip(needs, done, strict=True)]
        if not any(extras):
            short = [need for need, count in zip(needs, done, strict=True) if need > count]
            if short:
                worst = max(short)
                why = (f"it would need {worst:.0f} rounds at this noise" if math.isfinite(worst) else
                       "no round count catches a 10 % slowdown with --threshold at or above 1.10")
                meter.note(f"A/B: {why}; stopping at {max(done)} rounds (--max-rounds {max_rounds}); the verdict "
                           "says what these rounds can see")
            break
        active = [i for i, extra in enumerate(extras) if extra]
        which = "" if len(active) == len(pairs) else f" for {len(active)} of {len(pairs)} cell pairs"
        top = max(active, key=lambda i: done[i] + extras[i])
        run_rounds([(pairs[i], done[i], extras[i]) for i in active],
                   f"A/B: at this runner's noise the gate needs about {max(needs[i] for i in active):.0f} rounds to "
                   f"catch a 10 % slowdown{which}; running {extras[top]} more ({done[top] + extras[top]} of at most "
                   f"{max_rounds})")
        done = [count + extra for count, extra in zip(done, extras, strict=True)]
    return tuple(result_store.read(run_id=c.run_id) for c in contexts)  # type: ignore[return-value]


def pair_needs(pairs: Sequence[tuple[Cell, Cell]], frames: Sequence[pd.DataFrame],
               rounds_needed: Callable[[pd.DataFrame, pd.DataFrame, int], float]) -> list[float]:
    """``rounds_needed`` of each pair's own rows (each side's rows whose cell label is the pair's cell), told how
    many pairs the job has (the gate's false-alarm rate is shared over all of them)."""
    labels = [row_labels(frame, CELL_LABEL_COLUMNS, cell_label) for frame in frames]
    return [rounds_needed(frames[0][(labels[0] == a.label).to_numpy()], frames[1][(labels[1] == b.label).to_numpy()],
                          len(pairs)) for a, b in pairs]
