"""The messages of a worker that serves several ``ab`` rounds of one cell (op ``cell_rounds``).

The worker loads the cell's model once and appends a :class:`WorkerReady` line to its journal file (so the
parent can start the other side's worker only then, and no load overlaps another), then waits on its standard
input for typed commands, one JSON line each: :class:`RoundCommand` (measure round N: the workload's warm-ups
and repetitions again) or :class:`StopCommand`. After each round it appends one :class:`RoundDone` line to its
journal (the cell's :class:`~genai_harness.worker.protocol.ops.CellReply` for that round, or the error that ended
it). Its response file at the end is a :class:`CellRoundsReply`. Standard output is never used: native
runtimes write there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from genai_harness.errors import WorkerProtocolError
from genai_harness.worker.protocol.base import Json, WorkerReply, WorkerRequest, decoded, json_object
from genai_harness.worker.protocol.ops import CellReply, CellRequest


@dataclass
class CellRoundsReply(WorkerReply):
    """The end of a rounds worker: how many rounds it measured."""

    rounds: int

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"rounds": self.rounds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellRoundsReply:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data["rounds"]))


@dataclass(frozen=True)
class CellRoundsRequest(WorkerRequest[CellRoundsReply]):
    """Load ``cell``'s model once, then measure it once per :class:`RoundCommand`, journalling each round."""

    OP: ClassVar[str] = "cell_rounds"
    cell: CellRequest
    journal: str

    def reply_type(self) -> type[CellRoundsReply]:
        """The class of the reply to this request."""
        return CellRoundsReply

    def to_dict(self) -> Json:
        """JSON-ready form (the cell request's own fields under ``cell``)."""
        return {"cell": self.cell.to_dict(), "journal": self.journal}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellRoundsRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(CellRequest.from_dict(json_object(data["cell"], "cell")), str(data["journal"]))


@dataclass(frozen=True)
class RoundCommand:
    """Measure round ``round`` now (a line on the worker's standard input)."""

    round: int

    def to_line(self) -> str:
        """The command as one JSON line."""
        return f'{{"round": {int(self.round)}}}\n'


@dataclass(frozen=True)
class StopCommand:
    """No more rounds: answer and exit (a line on the worker's standard input; end of input means the same)."""

    def to_line(self) -> str:
        """The command as one JSON line."""
        return '{"stop": true}\n'


Command = RoundCommand | StopCommand


def command_from_line(line: str) -> Command:
    """The command of one standard-input line (``""``, end of input, is a stop); anything else raises
    WorkerProtocolError."""
    if not line:
        return StopCommand()
    try:
        data = json_object(json.loads(line), "command")
    except ValueError as exc:
        raise WorkerProtocolError(f"rounds worker got an unreadable command {line[:80]!r} ({exc})") from None
    if data.get("stop") is True:
        return StopCommand()
    return decoded("rounds worker command", lambda: RoundCommand(int(data["round"])))


@dataclass(frozen=True)
class WorkerReady:
    """The journal's first line: the model is loaded (``load_s``) and the worker waits for commands."""

    load_s: float

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"ready": self.load_s}


@dataclass
class RoundDone:
    """One journal line: round ``round`` measured (``reply``) or failed (``error``, ``error_type``)."""

    round: int
    reply: CellReply | None = None
    error: str | None = None
    error_type: str | None = None

    def to_dict(self) -> Json:
        """JSON-ready form (the reply carries the worker's peak RSS after the round)."""
        out: Json = {"round": self.round}
        if self.reply is not None:
            out["reply"] = {**self.reply.to_dict(), "peak_rss_mb": self.reply.peak_rss_mb}
        if self.error is not None:
            out.update(error=self.error, error_type=self.error_type)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundDone:
        """Inverse of :meth:`to_dict`; a malformed line raises WorkerProtocolError."""
        def build() -> RoundDone:
            reply = None
            if data.get("reply") is not None:
                body = dict(json_object(data["reply"], "round reply"))
                peak = body.pop("peak_rss_mb", None)
                reply = CellReply.from_dict(body)
                reply.peak_rss_mb = float(peak) if isinstance(peak, (int, float)) else None
            error = data.get("error")
            return cls(int(data["round"]), reply, None if error is None else str(error),
                       None if data.get("error_type") is None else str(data["error_type"]))
        return decoded("rounds worker journal line", build)


def journal_line(data: Any) -> WorkerReady | RoundDone:
    """The entry of one journal line's JSON; a malformed one raises WorkerProtocolError."""
    data = json_object(data, "journal line")
    if "ready" in data:
        return decoded("rounds worker ready line", lambda: WorkerReady(float(data["ready"])))
    return RoundDone.from_dict(data)
