"""A worker started before its turn (``ab``'s paired starts: :func:`genai_harness.runner.cell_loop.run_calls`).

A fresh worker's Python start and imports cost more than the measured calls of a small cell (tiny-llm on
onnxruntime-genai: 0.3-0.5 s against 0.2 s). Two workers that start together import on two cores at once and then
measure one after the other. The request file then names a start journal (:data:`START_GATE_KEY`). The worker reads
its request, imports its runtime, appends one :class:`WorkerPrepared` line there and waits on its standard input
for one :class:`GoCommand` line before it does anything it measures. End of input before it means: stop without
answering (the parent gave up on the call).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from genai_harness.errors import WorkerProtocolError
from genai_harness.worker.protocol.base import json_object

START_GATE_KEY = "start_gate"
"""The request file's key for the start journal of a worker that waits for its turn."""


def start_gate(data: Any) -> str | None:
    """The start journal a request file's content names (None: the worker starts at once)."""
    gate = data.get(START_GATE_KEY) if isinstance(data, dict) else None
    if gate is not None and not isinstance(gate, str):
        raise WorkerProtocolError(f"the worker's request names a start gate that is not a path: {gate!r}")
    return gate


@dataclass(frozen=True)
class WorkerPrepared:
    """The start journal's line: the request is read and the runtime imported; the worker waits for its turn."""

    def to_line(self) -> str:
        """The line, newline included."""
        return '{"prepared": true}\n'

    @classmethod
    def from_line(cls, line: str) -> WorkerPrepared:
        """Inverse of :meth:`to_line`; anything else raises WorkerProtocolError."""
        try:
            data = json_object(json.loads(line), "start journal line")
        except ValueError as exc:
            raise WorkerProtocolError(f"unreadable start journal line {line[:80]!r} ({exc})") from None
        if data.get("prepared") is not True:
            raise WorkerProtocolError(f"unexpected start journal line {line[:80]!r}")
        return cls()


@dataclass(frozen=True)
class GoCommand:
    """Start now (the one line on a waiting worker's standard input)."""

    def to_line(self) -> str:
        """The command, newline included."""
        return '{"go": true}\n'

    @classmethod
    def is_go(cls, line: str) -> bool:
        """Whether a standard-input line is this command (``""``, end of input, is not); anything other than the
        command or end of input raises WorkerProtocolError."""
        if not line:
            return False
        try:
            data = json_object(json.loads(line), "start command")
        except ValueError as exc:
            raise WorkerProtocolError(f"waiting worker got an unreadable command {line[:80]!r} ({exc})") from None
        if data.get("go") is not True:
            raise WorkerProtocolError(f"waiting worker got {line[:80]!r}, not a go command")
        return True
