"""What every worker message shares: the reply and request bases, the error reply, the requested numerics, the
peak-RSS field, and how a missing or ill-shaped field becomes a WorkerProtocolError."""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from genai_harness.errors import HarnessError, WorkerProtocolError, error_from_dict

PEAK_RSS_KEY = "_worker_peak_rss_mb"
"""The response file's field for the worker's own peak resident memory in MB (VmHWM, not the wait4 figure)."""

Json = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R", bound="WorkerReply")


def decoded(what: str, build: Callable[[], T]) -> T:
    """``build()``, with a missing key or a value of the wrong shape raised as a WorkerProtocolError."""
    try:
        return build()
    except KeyError as exc:
        raise WorkerProtocolError(f"the {what} lacks the field {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise WorkerProtocolError(f"the {what} is malformed ({type(exc).__name__}: {exc})") from None


def json_object(data: Any, what: str) -> Mapping[str, Any]:
    """``data``, which must be a JSON object (a WorkerProtocolError names ``what`` otherwise)."""
    if not isinstance(data, Mapping):
        raise WorkerProtocolError(f"worker {what} is not a JSON object")
    return data


def optional_float(value: Any) -> float | None:
    """``value`` as a float if it is a number, else None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RequestedNumerics:
    """The precision and threads a cell or call asks for (None: the workload's, else the runtime's default)."""

    precision: str | None = None
    threads: int | None = None

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"precision": self.precision, "threads": self.threads}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RequestedNumerics:
        """Inverse of :meth:`to_dict` (an absent field is None)."""
        data = data or {}
        return cls(data.get("precision"), data.get("threads"))


@dataclass
class WorkerReply:
    """Base of every reply. ``peak_rss_mb``: the worker's own peak resident memory in MB; the worker sets it as
    it answers (a cell, before its reference check), and it travels beside the reply's fields."""

    peak_rss_mb: float | None = field(default=None, kw_only=True)

    def to_dict(self) -> Json:
        """The reply's fields, JSON-ready (without ``peak_rss_mb``, which :func:`encode_reply` adds)."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        """Inverse of :meth:`to_dict`; a missing or ill-shaped field raises KeyError, TypeError or ValueError."""
        raise NotImplementedError


@dataclass
class ErrorReply(WorkerReply):
    """A request that failed: a HarnessError by its type name (re-raised as that type), else its words."""

    error_type: str
    message: str
    traceback: str | None = None

    @classmethod
    def of(cls, exc: BaseException) -> ErrorReply:
        """The reply for ``exc``: a HarnessError as itself, anything else as a HarnessError with its traceback."""
        if isinstance(exc, HarnessError):
            carried = exc.to_dict()
            return cls(carried["type"], carried["message"])
        return cls("HarnessError", f"{type(exc).__name__}: {exc}", traceback.format_exc()[-3000:])

    def to_exception(self) -> HarnessError:
        """The error to raise in the parent: of its own type where the harness knows it."""
        return error_from_dict({"type": self.error_type, "message": self.message})

    def to_dict(self) -> Json:
        """JSON-ready form."""
        error = {"type": self.error_type, "message": self.message}
        if self.traceback is not None:
            error["traceback"] = self.traceback
        return {"error": error}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ErrorReply:
        """Inverse of :meth:`to_dict` (a missing type is HarnessError, a missing message 'unknown error')."""
        error = json_object(data["error"], "error")
        return cls(str(error.get("type", "")), str(error.get("message", "unknown error")), error.get("traceback"))


class WorkerRequest(Generic[R]):
    """Base of every request: ``OP`` names it in the request file; :meth:`reply_type` is what answers it."""

    OP: ClassVar[str]

    def reply_type(self) -> type[R]:
        """The class of the reply to this request."""
        raise NotImplementedError

    def to_dict(self) -> Json:
        """The request's fields, JSON-ready (without ``op``, which :func:`encode_request` adds)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerRequest[R]:
        """Inverse of :meth:`to_dict`; a missing or ill-shaped field raises KeyError, TypeError or ValueError."""
        raise NotImplementedError
