"""The backend registry: entry points of the group ``genai_harness.backends``, loaded lazily.

Listing backends reads entry-point metadata only; a backend's module is imported when it is
first used, and its runtime later still. A backend that cannot load is reported as unavailable
with the reason, never raised from a listing.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from dataclasses import asdict, dataclass, field
from typing import Any

from genai_harness.backends.base import Backend
from genai_harness.errors import BackendUnavailableError, HarnessError, UnknownFrameworkError
from genai_harness.interface.devices import DEFAULT_ENVIRONMENT

ENTRY_POINT_GROUP = "genai_harness.backends"


@dataclass(frozen=True)
class BackendSpec:
    """Where a backend lives: its framework name and ``module:attribute`` target."""

    framework: str
    target: str
    distribution: str = ""


@dataclass
class BackendStatus:
    """Whether a backend can be used here, and if not, why."""

    framework: str
    target: str
    environment: str
    available: bool
    reason: str = ""
    tasks: list[str] = field(default_factory=list)
    model_formats: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    discovery_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


_extra_specs: dict[str, BackendSpec] = {}
_loaded: dict[tuple[str, str], Backend] = {}


def register_spec(spec: BackendSpec) -> None:
    """Add a backend that has no entry point (a worker receives its parent's specs this way)."""
    _extra_specs.setdefault(spec.framework, spec)
    _loaded.pop((spec.framework, DEFAULT_ENVIRONMENT), None)


def register_specs(specs: list[dict[str, str]]) -> None:
    """Register specs sent by a parent process (see :func:`specs_for_worker`)."""
    for spec in specs:
        register_spec(BackendSpec(**spec))


def specs_for_worker() -> list[dict[str, str]]:
    """This process's backends, as a worker request carries them (so a worker sees what its parent sees)."""
    return [asdict(spec) for spec in backend_specs().values()]


def backend_specs() -> dict[str, BackendSpec]:
    """Every registered backend by framework name, without importing any of them: the installed entry points and
    the specs registered in this process, which win where both name a framework (a worker's are its parent's)."""
    return dict(sorted({**_installed_specs(), **_extra_specs}.items()))


@functools.cache
def _installed_specs() -> dict[str, BackendSpec]:
    """The installed distributions' backends (entry points), read once a process: reading them parses every
    distribution's metadata, 0.02 s, and every worker request carries them."""
    specs = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        specs[ep.name] = BackendSpec(ep.name, ep.value, dist.name if dist is not None else "")
    return specs


def get_backend(framework: str, environment: str = DEFAULT_ENVIRONMENT) -> Backend:
    """The backend for ``framework``; its module is imported now, its runtime is not."""
    key = (framework, environment)
    if key in _loaded:
        return _loaded[key]
    # a registered spec needs no entry points: a worker loads what its parent sent without reading every installed
    # distribution's metadata (about 6 ms of each worker start: benchmarks/RESULTS.md "What a worker's start costs")
    spec = _extra_specs.get(framework) or backend_specs().get(framework)
    if spec is None:
        raise UnknownFrameworkError(
            f"unknown framework {framework!r}; known frameworks: {', '.join(backend_specs()) or 'none'}"
        )
    backend_cls = _load_class(spec)
    backend = backend_cls(environment=environment)
    _loaded[key] = backend
    return backend


def _load_class(spec: BackendSpec) -> type[Backend]:
    module_name, _, attr = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
        backend_cls = getattr(module, attr)
    except Exception as exc:
        raise BackendUnavailableError(
            f"backend {spec.framework!r} ({spec.target}) failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(backend_cls, type) and issubclass(backend_cls, Backend)):
        raise BackendUnavailableError(
            f"backend {spec.framework!r} entry point {spec.target} is not a genai_harness Backend subclass"
        )
    return backend_cls


def backend_status(framework: str, environment: str = DEFAULT_ENVIRONMENT) -> BackendStatus:
    """Load a backend and its runtime, and say whether it is usable (never raises for that)."""
    spec = backend_specs().get(framework)
    target = spec.target if spec else ""
    try:
        backend = get_backend(framework, environment)
        backend.import_runtime()
    except HarnessError as exc:
        return BackendStatus(framework, target, environment, False, str(exc))
    return BackendStatus(
        framework, target, environment, True, "", list(backend.tasks), dict(backend.model_formats),
        backend.versions(),
        backend.discovery_note(),
    )
