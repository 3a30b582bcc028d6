"""A worker that serves several ``ab`` rounds of one cell: load once, then measure once per command.

Op ``cell_rounds`` (:mod:`genai_harness.worker.protocol.rounds`): the model is loaded as a plain cell loads it
(``load_s`` of this process's first load), then each :class:`RoundCommand` read from standard input runs the
workload's warm-ups and repetitions again on the same pipeline and appends a :class:`RoundDone` line to the
journal. The parent (:mod:`genai_harness.runner.round_worker`) alternates the two sides' workers round by round,
so both sides still share the same minutes of the machine; what one process draws (its heap, its threads'
placement) is shared by its rounds, and the gate counts the worker, not the round, as the independent unit.

With ``fork`` the worker is a fork server instead: it imports the cell's runtime once, then forks one child per
round, which loads the model (its own first load: ``load_s`` per round) and measures, journals its round and exits.
A round then costs a fork, a load and the measured calls, not an interpreter start and the imports (about 60 % of
a fresh worker's call for tiny-llm on onnxruntime-genai); each round has its own heap, model and runtime threads,
and what the children share (the parent's imported libraries and their layout) is what the gate's unit, the
worker, counts once. No runtime threads exist in the parent when it forks: importing creates none here
(onnxruntime-genai, onnxruntime and openvino start their thread pools with the first session or model).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import TextIO

from genai_harness.backends.registry import get_backend
from genai_harness.errors import CellError
from genai_harness.host.memory import own_peak_rss_mb
from genai_harness.worker import protocol
from genai_harness.worker.cell import load_cell, measure_cell
from genai_harness.worker.orphans import die_with_parent


def _journal(path: Path, entry: protocol.RoundDone | protocol.WorkerReady) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(entry.to_dict(), default=str) + "\n")
        fh.flush()


def run_cell_rounds(request: protocol.CellRoundsRequest, commands: TextIO | None = None) -> protocol.CellRoundsReply:
    """Load the cell once, then measure one round per command until a stop (or the end of ``commands``, standard
    input by default). A round that fails is journalled with its error; the worker then stops (a runtime that
    failed once is no longer the process its earlier rounds measured)."""
    journal = Path(request.journal)
    source = commands if commands is not None else sys.stdin
    if request.fork:
        return _forked_rounds(request, journal, source)
    cell = load_cell(request.cell)
    _journal(journal, protocol.WorkerReady(cell.load_s))
    measured = 0
    while True:
        command = protocol.command_from_line(source.readline())
        if isinstance(command, protocol.StopCommand):
            break
        try:
            reply, _ = measure_cell(cell)
        except Exception as exc:  # the round fails with what went wrong; the parent records it and ends the worker
            kind = type(exc).__name__
            _journal(journal, protocol.RoundDone(command.round, error=f"{kind}: {exc}"[:2000], error_type=kind))
            raise
        reply.peak_rss_mb = own_peak_rss_mb()
        _journal(journal, protocol.RoundDone(command.round, reply=reply))
        measured += 1
    return protocol.CellRoundsReply(measured)


def _forked_rounds(request: protocol.CellRoundsRequest, journal: Path, source: TextIO) -> protocol.CellRoundsReply:
    """The fork server: import the runtime, say ready, then one forked child per round (see the module docstring).
    A child that fails journals its error and exits 1; one that dies without a line (a crash in native code) is
    journalled here with how it ended. Either way the worker then stops, as a loaded worker does."""
    get_backend(request.cell.framework, request.cell.environment).import_runtime()
    _journal(journal, protocol.WorkerReady(math.nan))
    measured = 0
    while True:
        command = protocol.command_from_line(source.readline())
        if isinstance(command, protocol.StopCommand):
            break
        sys.stdout.flush()
        sys.stderr.flush()  # a child's exit must not write the parent's buffered output a second time
        child = os.fork()
        if child == 0:
            os._exit(_child_round(request, journal, command.round))  # never back into the parent's loop
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            measured += 1
            continue
        if code != 1:  # it died before it could journal its round
            how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            died = f"CellError: the round's forked child died ({how})"
            _journal(journal, protocol.RoundDone(command.round, error=died, error_type="CellError"))
        raise CellError(f"round {command.round} failed in its forked child; the fork server stops")
    return protocol.CellRoundsReply(measured)


def _child_round(request: protocol.CellRoundsRequest, journal: Path, index: int) -> int:
    """One round in a forked child: load, measure, journal; its exit status (0 measured, 1 failed and journalled)."""
    try:
        die_with_parent()  # the fork server's own request is not inherited: a killed server leaves no child behind
        cell = load_cell(request.cell)
        reply, _ = measure_cell(cell)
        reply.peak_rss_mb = own_peak_rss_mb()
        _journal(journal, protocol.RoundDone(index, reply=reply))
        return 0
    except BaseException as exc:  # a child's every failure becomes its round's journal line, then its exit
        kind = type(exc).__name__
        _journal(journal, protocol.RoundDone(index, error=f"{kind}: {exc}"[:2000], error_type=kind))
        return 1
