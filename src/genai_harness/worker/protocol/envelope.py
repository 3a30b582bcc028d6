"""The two files: a request file (``op``, the request's fields, the parent's backend specs and EP-library settings)
and a response file (the reply's fields or an error, and the worker's own peak RSS)."""

from __future__ import annotations

from typing import Any

from genai_harness.errors import WorkerProtocolError
from genai_harness.host.ep_libraries import settings_for_worker
from genai_harness.worker.protocol.base import (
    PEAK_RSS_KEY,
    ErrorReply,
    Json,
    R,
    WorkerReply,
    WorkerRequest,
    decoded,
    json_object,
    optional_float,
)
from genai_harness.worker.protocol.load import LoadRequest
from genai_harness.worker.protocol.operators import OperatorBatchRequest
from genai_harness.worker.protocol.ops import CellRequest, DirectRequest, InventoryRequest
from genai_harness.worker.protocol.rounds import CellRoundsRequest

REQUESTS: dict[str, type[Any]] = {cls.OP: cls for cls in (InventoryRequest, CellRequest, DirectRequest,
                                                          OperatorBatchRequest, LoadRequest, CellRoundsRequest)}
"""Every request class by its op."""


def encode_request(request: WorkerRequest[Any], backend_specs: list[dict[str, str]]) -> Json:
    """The request file's content: ``request``, the parent's backend specs (the worker registers them first) and its
    plugin EP-library settings (:mod:`genai_harness.host.ep_libraries`: the configured libraries the worker uses)."""
    return {"op": request.OP, **request.to_dict(), "backend_specs": backend_specs,
            EP_LIBRARIES_KEY: settings_for_worker()}


EP_LIBRARIES_KEY = "ep_libraries"
"""The request file's key for the parent's EP-library settings."""


def ep_library_settings(data: Any) -> Any:
    """The EP-library settings of a request file's content (None when it has none)."""
    return data.get(EP_LIBRARIES_KEY) if isinstance(data, dict) else None


def decode_request(data: Any) -> tuple[WorkerRequest[Any], list[dict[str, str]]]:
    """(request, backend specs) of a request file's content; an unknown op or a malformed request raises
    WorkerProtocolError."""
    data = json_object(data, "request")
    op = data.get("op")
    if op not in REQUESTS:
        raise WorkerProtocolError(f"unknown worker op {op!r}; known: {', '.join(REQUESTS)}")
    specs = data.get("backend_specs") or []
    if not isinstance(specs, list):
        raise WorkerProtocolError("the worker's request holds backend_specs that are not a list")
    return decoded(f"worker request {op!r}", lambda: REQUESTS[op].from_dict(data)), specs


def encode_reply(reply: WorkerReply) -> Json:
    """The response file's content: the reply's fields and, when known, the worker's own peak RSS."""
    data = reply.to_dict()
    if reply.peak_rss_mb is not None:
        data[PEAK_RSS_KEY] = reply.peak_rss_mb
    return data


def decode_reply(data: Any, reply_type: type[R]) -> R | ErrorReply:
    """The reply (of ``reply_type``, or an :class:`ErrorReply`) of a response file's content; a malformed one
    raises WorkerProtocolError."""
    data = json_object(data, "response")
    body = {k: v for k, v in data.items() if k != PEAK_RSS_KEY}
    reply_class: type[R] | type[ErrorReply] = ErrorReply if body.get("error") else reply_type
    reply = decoded(f"worker's {reply_class.__name__}", lambda: reply_class.from_dict(body))
    reply.peak_rss_mb = optional_float(data.get(PEAK_RSS_KEY))
    return reply
