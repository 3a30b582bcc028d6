"""A worker that serves several ``ab`` rounds of one cell: load once, then measure once per command.

Op ``cell_rounds`` (:mod:`genai_harness.worker.protocol.rounds`): the model is loaded as a plain cell loads it
(``load_s`` of this process's first load), then each :class:`RoundCommand` read from standard input runs the
workload's warm-ups and repetitions again on the same pipeline and appends a :class:`RoundDone` line to the
journal. The parent (:mod:`genai_harness.runner.round_worker`) alternates the two sides' workers round by round,
so both sides still share the same minutes of the machine; what one process draws (its heap, its threads'
placement) is shared by its rounds, and the gate counts the worker, not the round, as the independent unit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from genai_harness.host.memory import own_peak_rss_mb
from genai_harness.worker import protocol
from genai_harness.worker.cell import load_cell, measure_cell


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
    cell = load_cell(request.cell)
    _journal(journal, protocol.WorkerReady(cell.took.wall_s))
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
