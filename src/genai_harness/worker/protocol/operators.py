"""The ``operator_batch`` op: many operator cells in one worker process, each journalled as it starts and ends
(``{"start": ID}``, then ``{"done": ID, ...}``), so the parent knows which cell a dead worker was in."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from genai_harness.worker.protocol.base import Json, WorkerReply, WorkerRequest, decoded, json_object, optional_float


@dataclass
class OperatorBatchReply(WorkerReply):
    """An operator batch that ran to its end: how many cells it ran (each cell's answer is in the journal)."""

    cells: int

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"cells": self.cells}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatorBatchReply:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data["cells"]))


@dataclass(frozen=True)
class OperatorCellRequest:
    """One cell of an operator batch: run ``model`` (an ONNX file) on ``runtime`` with the inputs in ``feeds`` (an
    .npz), save its output to ``output`` (an .npy), then time ``warmup`` + ``repetitions`` runs within
    ``max_time_s`` (at least ``min_repetitions``)."""

    id: int
    runtime: str
    model: str
    feeds: str
    output: str
    execution_provider: str
    provider_options: dict[str, str]
    device: str
    dtype: str
    repetitions: int
    warmup: int
    max_time_s: float = 0.5
    min_repetitions: int = 1
    ep_library: dict[str, Any] | None = None
    """A plugin target's library (its device's ``config["ep_library"]``): registered before the session."""
    ep_device: dict[str, Any] | None = None
    """A plugin target's ``OrtEpDevice`` key: the session is given that device, not an EP name."""

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatorCellRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclass(frozen=True)
class OperatorBatchRequest(WorkerRequest[OperatorBatchReply]):
    """Run ``cells`` in order in one process, journalling each to the file ``journal``."""

    OP: ClassVar[str] = "operator_batch"
    journal: str
    cells: list[OperatorCellRequest]

    def reply_type(self) -> type[OperatorBatchReply]:
        """:class:`OperatorBatchReply`."""
        return OperatorBatchReply

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"journal": self.journal, "cells": [cell.to_dict() for cell in self.cells]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatorBatchRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["journal"]), [OperatorCellRequest.from_dict(cell) for cell in data["cells"]])


@dataclass(frozen=True)
class OperatorCellReply:
    """One operator cell that ran: its load time, each repetition's time, the worker's peak RSS in it and what the
    runtime read back (the device it ran on, its precision, its version)."""

    load_s: float
    times_ms: list[float]
    peak_rss_mb: float | None
    actual_device: str
    precision: str
    runtime_version: str

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatorCellReply:
        """Inverse of :meth:`to_dict`."""
        return cls(float(data["load_s"]), [float(t) for t in data["times_ms"]], optional_float(data.get("peak_rss_mb")),
                   str(data["actual_device"]), str(data["precision"]), str(data["runtime_version"]))


@dataclass(frozen=True)
class CellStarted:
    """Journal: the batch worker starts cell ``id``."""

    id: int

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"start": self.id}


@dataclass(frozen=True)
class CellDone:
    """Journal: cell ``id`` ended with its reply, or a refusal of the runtime (its own words), or another error."""

    id: int
    reply: OperatorCellReply | None = None
    refused: str | None = None
    error: str | None = None
    error_type: str = "HarnessError"

    def to_dict(self) -> Json:
        """JSON-ready form."""
        if self.reply is not None:
            return {"done": self.id, "response": self.reply.to_dict()}
        if self.refused is not None:
            return {"done": self.id, "refused": self.refused}
        return {"done": self.id, "error": self.error or "", "error_type": self.error_type}


def journal_entry_from_dict(data: Any) -> CellStarted | CellDone:
    """Inverse of ``to_dict`` of :class:`CellStarted` and :class:`CellDone`; a malformed entry raises
    WorkerProtocolError."""
    entry = json_object(data, "journal entry")

    def build() -> CellStarted | CellDone:
        if "start" in entry:
            return CellStarted(int(entry["start"]))
        if "refused" in entry:
            return CellDone(int(entry["done"]), refused=str(entry["refused"]))
        if "error" in entry:
            return CellDone(int(entry["done"]), error=str(entry["error"]),
                            error_type=str(entry.get("error_type", "HarnessError")))
        return CellDone(int(entry["done"]), OperatorCellReply.from_dict(entry["response"]))

    return decoded("operator journal entry", build)


