"""``ab`` rounds served by long-lived workers: one worker per side for several rounds of a cell pair.

A *session* is one worker process per side, each loading its cell once (A's first in even sessions of a cell pair,
B's first in odd ones, never both at once), then ``rounds`` rounds in ABBA order from the side that loaded first
(:func:`round_sides`), each round the workload's warm-ups and repetitions on the loaded model. Rows are written as
each round ends, with ``worker_session`` naming the worker that measured them, so the gate can count the worker, not
the round, as the unit that is independent of the others (:func:`genai_harness.gate.units.session_means`), and
``load_position`` (1 or 2) saying whether that worker loaded first or second, so the gate can take the load order
out of the load's test (:func:`genai_harness.gate.units.session_loaded_first`). A round that fails is recorded as a
one-call worker's failure would be and ends its session (both workers); the job goes on with the next session.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from typing import Any

from genai_harness.errors import HarnessError
from genai_harness.results.store import ResultStore
from genai_harness.runner.cell_loop import RunContext, failed_row, measured_rows, status_of, summarize_rows
from genai_harness.runner.plan import Cell
from genai_harness.runner.progress import Progress
from genai_harness.runner.round_worker import RoundWorker
from genai_harness.runner.signals import interrupt_reason, signals_deferred


def round_sides(load_order: tuple[int, int], offset: int) -> tuple[int, int]:
    """Which side runs first in round ``offset`` of a session whose workers loaded in ``load_order`` (pure): the
    side that loaded first, then ABBA (the other side first in odd rounds).

    In a session each worker measures twice in a row at every round boundary, and with an even number of rounds
    the side that starts second gets one more round right after its own than the other: on openvino-genai a round
    measured right after the same worker's was about 2 % faster, so sessions that all started with A (the job's
    round index, even at every session's start) carried an A/A offset (TTFT -1.2 %, p 0.03; TPOT -1.0 %, p 0.08;
    48 sessions), gone with this order (+0.4 %, +0.7 %; benchmarks/RESULTS.md, "Sessions paused, and their order").
    The load order alternates session by session, so this order does too, and what a position in a session is
    worth falls on A and B alike."""
    first, second = load_order
    return (first, second) if offset % 2 == 0 else (second, first)


def session_plan(plan: Sequence[tuple[int, int]], per_worker: int) -> list[tuple[int, int, int]]:
    """The sessions that run ``plan`` (per cell pair: first round, round count), at most ``per_worker`` rounds each
    (pure): (pair index, first round, rounds) in the order to run them, the pairs taking turns session by session."""
    if per_worker < 1:
        raise ValueError(f"per_worker must be at least 1, got {per_worker}")
    chunks = [[(index, start + k, min(per_worker, count - k)) for k in range(0, count, per_worker)]
              for index, (start, count) in enumerate(plan)]
    return [chunk[j] for j in range(max((len(c) for c in chunks), default=0)) for chunk in chunks if j < len(chunk)]


class SessionRunner:
    """Runs sessions of cell pairs for the two sides of an ``ab`` job, writing each round's rows to ``store``."""

    def __init__(self, store: ResultStore, contexts: Sequence[RunContext], progress: Progress,
                 written: list[dict[str, Any]]) -> None:
        self.store, self.contexts, self.progress, self.written = store, contexts, progress, written
        self.sessions = 0
        self.turns: dict[tuple[str, str], int] = {}
        """Sessions run so far per cell pair (by its cells' labels): the load order alternates within each pair."""
        self.worker_seconds = 0.0
        """Wall seconds the workers' starts and loads took (the part of a round a session saves)."""

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with signals_deferred():  # a finished round's rows are written whole, even if a signal comes now
            self.store.append(rows)
        self.written += rows

    def run(self, pair: tuple[Cell, Cell], first: int, rounds: int) -> int:
        """One session of ``pair``: rounds ``first`` .. ``first + rounds - 1``; returns the rounds both sides
        measured (fewer when one failed: that round's failure is recorded and the session ends)."""
        number = self.sessions
        self.sessions += 1
        load_order = self.load_order(pair)
        # what each side's rows carry: its worker, and whether that worker loaded first (1) or second (2)
        marks = [{"worker_session": f"{context.run_id}/w{number}", "load_position": load_order.index(side) + 1}
                 for side, context in enumerate(self.contexts)]
        with contextlib.ExitStack() as stack:
            workers: list[RoundWorker | None] = [None, None]
            for side in load_order:
                cell = pair[side]
                try:
                    worker = stack.enter_context(RoundWorker(cell))
                    worker.wait_ready()
                except HarnessError as exc:
                    self._fail(cell, side, exc, first, session=marks[side])
                    return 0
                except KeyboardInterrupt as exc:
                    self._interrupted(cell, side, exc)
                    raise
                self.worker_seconds += worker.ready_s
                workers[side] = worker
            for offset in range(rounds):
                index = first + offset
                for side in round_sides(load_order, offset):
                    if not self._round(pair[side], side, workers[side], index, marks[side]):  # type: ignore[arg-type]
                        return offset
        return rounds

    def load_order(self, pair: tuple[Cell, Cell]) -> tuple[int, int]:
        """Which side's worker of ``pair`` loads first in its next session: A and B in turn, counted per cell pair.
        Counted over all sessions, the pairs of a job taking turns kept each pair's order fixed (with two pairs, A
        always first in one, B in the other), and a load that follows another loads faster (the worker loaded
        second: load time -3.6 %, p 0.08; benchmarks/RESULTS.md, "The sessions' A/A offset, looked for again")."""
        key = (pair[0].label, pair[1].label)
        turn = self.turns.get(key, 0)
        self.turns[key] = turn + 1
        return (0, 1) if turn % 2 == 0 else (1, 0)

    def _round(self, cell: Cell, side: int, worker: RoundWorker, index: int, session: dict[str, Any]) -> bool:
        """One round of ``side`` on its loaded worker; its rows carry ``session`` (the worker's session id and load
        position). False when the round failed (recorded: the session ends)."""
        self.progress.start(cell.label)
        started = time.monotonic()
        try:
            outcome = worker.measure(index)
        except HarnessError as exc:
            self._fail(cell, side, exc, index, started, session=session)
            return False
        except KeyboardInterrupt as exc:
            self._interrupted(cell, side, exc, started)
            raise
        rows = [{**row, **session} for row in measured_rows(cell, self.contexts[side], outcome)]
        self._write(rows)
        self.progress.finish("ok", time.monotonic() - started, summarize_rows(rows))
        return True

    def _fail(self, cell: Cell, side: int, exc: HarnessError, index: int, started: float = math.nan,
              session: dict[str, Any] | None = None) -> None:
        if math.isnan(started):
            self.progress.start(cell.label)
            started = time.monotonic()
        status = status_of(exc)
        # the session names the row: two sessions failing alike within one second are two rows, not one row twice
        self._write([{**failed_row(cell, self.contexts[side], status, exc), **(session or {})}])
        self.progress.finish(status, time.monotonic() - started, f"{exc} (round {index}; its worker's session ends)")

    def _interrupted(self, cell: Cell, side: int, exc: KeyboardInterrupt, started: float = math.nan) -> None:
        self._write([failed_row(cell, self.contexts[side], "interrupted", interrupt_reason(exc))])
        self.progress.finish("interrupted", time.monotonic() - started if math.isfinite(started) else 0.0)
