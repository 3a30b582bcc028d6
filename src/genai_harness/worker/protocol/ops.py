"""The model ops: ``inventory`` (what an environment offers), ``cell`` (one benchmark cell) and ``direct`` (one call
of ``generate``, ``imagine`` or ``classify``), each a request and its reply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from genai_harness.interface.devices import DEFAULT_ENVIRONMENT, Device
from genai_harness.worker.protocol.base import Json, RequestedNumerics, WorkerReply, WorkerRequest
from genai_harness.workloads.spec import Workload

MEASURES = ("time", "instructions")
"""What a cell measures: wall time on the harness's clock (always), or also executed instructions per phase."""
INSTRUCTIONS = "instructions"
"""The ``--measure`` that runs a cell under valgrind's callgrind and adds the ``instructions_*`` columns."""

@dataclass(frozen=True)
class ModelRef:
    """The model a cell runs: its catalog id, its format's key and the path of that format."""

    path: str
    id: str = ""
    format: str = ""

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"id": self.id, "format": self.format, "path": self.path}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRef:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["path"]), str(data.get("id", "")), str(data.get("format", "")))


@dataclass
class InventoryReply(WorkerReply):
    """What one Python environment offers: its backends (each its BackendStatus dict) and their devices."""

    environment: str
    python: str
    python_version: str
    backends: list[dict[str, Any]]
    devices: list[Device]
    ep_libraries: list[dict[str, Any]] = field(default_factory=list)
    """Every plugin EP library the environment has, as :class:`~genai_harness.backends.ep_plugins.Registration`
    lists it: path, package and version, EP names, the devices it offers or the reason it offers none."""

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"environment": self.environment, "python": self.python, "python_version": self.python_version,
                "backends": self.backends, "devices": [d.to_dict() for d in self.devices],
                "ep_libraries": self.ep_libraries}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InventoryReply:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data.get("environment", "")), str(data.get("python", "")),
                   str(data.get("python_version", "")), [dict(b) for b in data["backends"]],
                   [Device.from_dict(d) for d in data["devices"]],
                   [dict(lib) for lib in data.get("ep_libraries") or []])


@dataclass
class CellReply(WorkerReply):
    """What one cell measured: its load time (wall; CPU in ``load_cpu_s``) and one metrics record per repetition,
    and what ran them.

    ``numerics``: the runtime's read-back (its ``to_dict``), ``requested``: what the cell asked for, ``batch``:
    the batch that really ran, ``reference``: the agreement columns with the f32 CPU reference when asked for.
    """

    load_s: float
    repetitions: list[dict[str, Any]]
    actual_device: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    numerics: dict[str, Any] | None = None
    requested: RequestedNumerics | None = None
    energy_source: str | None = None
    batch: dict[str, Any] = field(default_factory=dict)
    itl_by_position_ms: list[float] | None = None
    reference: dict[str, Any] | None = None
    cold_start: dict[str, Any] | None = None
    """The cold-start columns (``compile_s``, ``load_cold_s`` ...) of a target that compiles: :mod:`.cold_start`."""
    load_cpu_s: float | None = None
    """The CPU seconds the loading thread spent on the load; None under valgrind."""

    def to_dict(self) -> Json:
        """JSON-ready form (``reference``, ``cold_start`` and ``load_cpu_s`` only where there are some)."""
        data: Json = {
            "load_s": self.load_s, "actual_device": self.actual_device, "versions": self.versions,
            "repetitions": self.repetitions, "numerics": self.numerics,
            "requested": self.requested.to_dict() if self.requested is not None else None,
            "energy_source": self.energy_source, "batch": self.batch, "itl_by_position_ms": self.itl_by_position_ms,
        }
        if self.reference is not None:
            data["reference"] = self.reference
        if self.cold_start is not None:
            data["cold_start"] = self.cold_start
        if self.load_cpu_s is not None:
            data["load_cpu_s"] = self.load_cpu_s
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellReply:
        """Inverse of :meth:`to_dict`."""
        requested, gaps, numerics = data.get("requested"), data.get("itl_by_position_ms"), data.get("numerics")
        return cls(float(data["load_s"]), [dict(r) for r in data["repetitions"]], str(data.get("actual_device", "")),
                   dict(data.get("versions") or {}), dict(numerics) if numerics is not None else None,
                   RequestedNumerics.from_dict(requested) if requested is not None else None,
                   data.get("energy_source"), dict(data.get("batch") or {}),
                   [float(g) for g in gaps] if gaps is not None else None,
                   dict(data["reference"]) if data.get("reference") is not None else None,
                   dict(data["cold_start"]) if data.get("cold_start") is not None else None,
                   float(data["load_cpu_s"]) if data.get("load_cpu_s") is not None else None)


@dataclass
class DirectReply(WorkerReply):
    """One direct call's answer: ``output`` holds what the task returned (text and token ids, an image's shape,
    top-1 classes ...) with its ``metrics``; the other fields say where and how it ran (a field of theirs in
    ``output`` is dropped)."""

    load_s: float
    device: Device
    output: dict[str, Any]
    actual_device: str = ""
    numerics: dict[str, Any] | None = None
    requested: RequestedNumerics | None = None
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("load_s", "device", "actual_device", "numerics", "requested")

    def __post_init__(self) -> None:
        self.output = {k: v for k, v in self.output.items() if k not in self.OWN_FIELDS}  # the reply's own win

    def to_dict(self) -> Json:
        """JSON-ready form: ``load_s``, the task's output, then where and how it ran."""
        return {"load_s": self.load_s, **self.output, "device": self.device.to_dict(),
                "actual_device": self.actual_device, "numerics": self.numerics,
                "requested": self.requested.to_dict() if self.requested is not None else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DirectReply:
        """Inverse of :meth:`to_dict` (every field that is not one of OWN_FIELDS is the task's output)."""
        requested, numerics = data.get("requested"), data.get("numerics")
        return cls(float(data["load_s"]), Device.from_dict(data["device"]),
                   dict(data), str(data.get("actual_device", "")),
                   dict(numerics) if numerics is not None else None,
                   RequestedNumerics.from_dict(requested) if requested is not None else None)


@dataclass(frozen=True)
class InventoryRequest(WorkerRequest[InventoryReply]):
    """Which backends and devices the environment ``environment`` offers."""

    OP: ClassVar[str] = "inventory"
    environment: str = DEFAULT_ENVIRONMENT

    def reply_type(self) -> type[InventoryReply]:
        """:class:`InventoryReply`."""
        return InventoryReply

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InventoryRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data.get("environment", DEFAULT_ENVIRONMENT)))


@dataclass(frozen=True)
class CellRequest(WorkerRequest[CellReply]):
    """Run one benchmark cell: ``workload`` with ``model`` on ``device`` through ``framework``."""

    OP: ClassVar[str] = "cell"
    framework: str
    device: Device
    workload: Workload
    model: ModelRef
    environment: str = DEFAULT_ENVIRONMENT
    numerics: RequestedNumerics = field(default_factory=RequestedNumerics)
    measure: str = "time"
    """``time``, or ``instructions`` (the worker runs under callgrind: :mod:`genai_harness.worker.instructions`)."""
    cache_root: str = ""
    """Where compiled-model caches live (``""``: the harness's cache on the machine that runs the cell); ``cold``:
    empty the cell's cache folder first, so its own load is the empty-cache start."""
    cold: bool = False
    cold_start: bool = True
    """Take the cold-start loads the cell's own load is not (compile, empty cache, warm cache: each a fresh process);
    False: record what the cell's own load shows only (the run took the others once for this target and model)."""
    machine_speed: bool = True
    """Time the machine-speed kernel beside the calls (``calib_ms``: :mod:`genai_harness.worker.calibration`)."""

    def reply_type(self) -> type[CellReply]:
        """:class:`CellReply`."""
        return CellReply

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"environment": self.environment, "framework": self.framework, "device": self.device.to_dict(),
                "workload": self.workload.to_dict(), "model": self.model.to_dict(), "numerics": self.numerics.to_dict(),
                "measure": self.measure, "cache_root": self.cache_root, "cold": self.cold,
                "cold_start": self.cold_start, "machine_speed": self.machine_speed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["framework"]), Device.from_dict(data["device"]), Workload.from_dict(data["workload"]),
                   ModelRef.from_dict(data["model"]), str(data.get("environment", DEFAULT_ENVIRONMENT)),
                   RequestedNumerics.from_dict(data.get("numerics")), str(data.get("measure", "time")),
                   str(data.get("cache_root", "")), bool(data.get("cold", False)), bool(data.get("cold_start", True)),
                   bool(data.get("machine_speed", True)))


@dataclass(frozen=True)
class DirectRequest(WorkerRequest[DirectReply]):
    """One call of ``task`` (``generate``, ``imagine``, ``classify``): ``device`` is the user's selector, ``params``
    the task's own (prompt, sizes, batch ...)."""

    OP: ClassVar[str] = "direct"
    framework: str
    task: str
    device: str
    model_path: str
    params: dict[str, Any]
    environment: str = DEFAULT_ENVIRONMENT
    numerics: RequestedNumerics = field(default_factory=RequestedNumerics)

    def reply_type(self) -> type[DirectReply]:
        """:class:`DirectReply`."""
        return DirectReply

    def to_dict(self) -> Json:
        """JSON-ready form."""
        return {"environment": self.environment, "framework": self.framework, "task": self.task,
                "device": self.device, "model_path": self.model_path, "params": self.params,
                "numerics": self.numerics.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DirectRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["framework"]), str(data["task"]), str(data["device"]), str(data["model_path"]),
                   dict(data["params"]), str(data.get("environment", DEFAULT_ENVIRONMENT)),
                   RequestedNumerics.from_dict(data.get("numerics")))
