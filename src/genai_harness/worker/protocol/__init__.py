"""The worker protocol: the request and the reply of every worker op, and the two files that carry them.

The runner writes a request file and the worker a response file (JSON: the worker may run under another
interpreter, in a bare environment that holds one runtime). Both sides build and read them through these classes
only, so every key of the files is spelled in this package and nowhere else:

* request file: ``{"op": OP, <the request's fields>, "backend_specs": [<the parent's backends>]}``;
* response file: the reply's fields, or ``{"error": {"type", "message"[, "traceback"]}}``; either with the
  worker's own peak resident memory under :data:`PEAK_RSS_KEY`;
* an operator batch's journal: one line per event, ``{"start": ID}`` then ``{"done": ID, ...}``.

Each op's request and reply: ``inventory``: :class:`InventoryRequest`, :class:`InventoryReply`; ``cell``:
:class:`CellRequest`, :class:`CellReply`; ``direct``: :class:`DirectRequest`, :class:`DirectReply`;
``load`` (a cold-start load): :class:`LoadRequest`, :class:`LoadReply`;
``operator_batch``: :class:`OperatorBatchRequest`, :class:`OperatorBatchReply` (each cell's own answer, an
:class:`OperatorCellReply`, is in the journal); ``cell_rounds``: :class:`CellRoundsRequest`,
:class:`CellRoundsReply` (a worker that loads once and measures one ``ab`` round per :class:`RoundCommand` on its
standard input, each round a :class:`RoundDone` journal line: :mod:`genai_harness.worker.protocol.rounds`). Any op
that fails answers an :class:`ErrorReply`.

What crosses keeps the shapes of its own classes: devices and workloads as their ``to_dict`` forms, backend
specs and statuses, numerics read-backs and metric records as plain dicts. A reply that lacks a field or holds
one of the wrong shape is a :class:`~genai_harness.errors.WorkerProtocolError`. No pandas: the worker imports this.
"""

from genai_harness.worker.protocol.base import (
    PEAK_RSS_KEY,
    ErrorReply,
    RequestedNumerics,
    WorkerReply,
    WorkerRequest,
)
from genai_harness.worker.protocol.envelope import (
    REQUESTS,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
)
from genai_harness.worker.protocol.load import LoadReply, LoadRequest
from genai_harness.worker.protocol.operators import (
    CellDone,
    CellStarted,
    OperatorBatchReply,
    OperatorBatchRequest,
    OperatorCellReply,
    OperatorCellRequest,
    journal_entry_from_dict,
)
from genai_harness.worker.protocol.ops import (
    INSTRUCTIONS,
    MEASURES,
    CellReply,
    CellRequest,
    DirectReply,
    DirectRequest,
    InventoryReply,
    InventoryRequest,
    ModelRef,
)
from genai_harness.worker.protocol.rounds import (
    CellRoundsReply,
    CellRoundsRequest,
    RoundCommand,
    RoundDone,
    StopCommand,
    WorkerReady,
    command_from_line,
    journal_line,
)

__all__ = [
    "INSTRUCTIONS",
    "MEASURES",
    "PEAK_RSS_KEY",
    "REQUESTS",
    "CellDone",
    "CellReply",
    "CellRequest",
    "CellRoundsReply",
    "CellRoundsRequest",
    "CellStarted",
    "DirectReply",
    "DirectRequest",
    "ErrorReply",
    "InventoryReply",
    "InventoryRequest",
    "LoadReply",
    "LoadRequest",
    "ModelRef",
    "OperatorBatchReply",
    "OperatorBatchRequest",
    "OperatorCellReply",
    "OperatorCellRequest",
    "RequestedNumerics",
    "RoundCommand",
    "RoundDone",
    "StopCommand",
    "WorkerReady",
    "WorkerReply",
    "WorkerRequest",
    "command_from_line",
    "decode_reply",
    "decode_request",
    "encode_reply",
    "encode_request",
    "journal_entry_from_dict",
    "journal_line",
]
