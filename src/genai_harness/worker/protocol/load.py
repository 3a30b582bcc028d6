"""The ``load`` op: build one pipeline in a fresh process and say how long it took (a cold-start load).

A cell whose target compiles takes its extra loads (no cache, empty cache, warm cache) each in a worker process of
its own, so that each is a first load in a fresh process, as an app's start is (:mod:`genai_harness.worker.
cold_start`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from genai_harness.interface.devices import DEFAULT_ENVIRONMENT, Device
from genai_harness.worker.protocol.base import Json, WorkerReply, WorkerRequest


@dataclass
class LoadReply(WorkerReply):
    """The load's time (construction to ready) and, where the runtime says so, whether it read the cache."""

    load_s: float
    loaded_from_cache: bool | None = None

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"load_s": self.load_s, "loaded_from_cache": self.loaded_from_cache}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadReply:
        """Inverse of :meth:`to_dict`."""
        said = data.get("loaded_from_cache")
        return cls(float(data["load_s"]), bool(said) if said is not None else None)


@dataclass(frozen=True)
class LoadRequest(WorkerRequest[LoadReply]):
    """Load ``task``'s pipeline of ``model_path`` on ``device`` (its config says which cache folder, if any)."""

    OP: ClassVar[str] = "load"
    framework: str
    task: str
    device: Device
    model_path: str
    environment: str = DEFAULT_ENVIRONMENT

    def reply_type(self) -> type[LoadReply]:
        """:class:`LoadReply`."""
        return LoadReply

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"framework": self.framework, "task": self.task, "device": self.device.to_dict(),
                "model_path": self.model_path, "environment": self.environment}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["framework"]), str(data["task"]), Device.from_dict(data["device"]),
                   str(data["model_path"]), str(data.get("environment", DEFAULT_ENVIRONMENT)))
