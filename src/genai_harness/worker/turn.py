"""A worker started before its turn: it imports its runtime, says so, and waits for the parent's go.

``ab`` starts both workers of a round together (:func:`genai_harness.runner.cell_loop.run_calls`), so their Python
start and imports share the machine's cores, and measures them one after the other. Everything a cell times comes
after the go: its load (construction to ready; the runtime's import is never in it), warm-ups and repetitions.
Messages: :mod:`genai_harness.worker.protocol.start`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from genai_harness.backends.registry import get_backend
from genai_harness.worker.protocol import CellRequest, GoCommand, WorkerPrepared


def import_runtime(request: Any) -> None:
    """Import the runtime a cell request runs on (other requests import theirs when they run)."""
    if isinstance(request, CellRequest):
        get_backend(request.framework, request.environment).import_runtime()


def wait_for_turn(request: Any, journal: Path, commands: TextIO) -> bool:
    """Import ``request``'s runtime, append :class:`WorkerPrepared` to ``journal``, then wait for one line on
    ``commands``: True for a :class:`GoCommand`, False at end of input (the parent gave up on this call)."""
    import_runtime(request)
    with open(journal, "a") as fh:
        fh.write(WorkerPrepared().to_line())
    return GoCommand.is_go(commands.readline())
