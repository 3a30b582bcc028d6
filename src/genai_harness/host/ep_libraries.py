"""Plugin execution-provider libraries: which ones this machine has, found without loading any of them.

Vendors ship execution providers as shared libraries that onnxruntime loads at run time
(``onnxruntime.register_execution_provider_library``). Two sources name them:

- installed packages: every distribution named ``onnxruntime-ep-*`` whose module offers ``get_library_path()``
  (and ``get_ep_names()``), as ``onnxruntime-ep-openvino``, ``onnxruntime-ep-webgpu`` and
  ``onnxruntime-ep-nv-tensorrt-rtx`` do;
- the config file's ``[ep_libraries]`` table, ``NAME = "PATH"``: loading a library runs its code, so, like
  the interpreters of ``[environments]``, they are used only from a config file the user named or approved
  (:mod:`genai_harness.trust`).

The parent process settles the configured ones (:func:`configure`); every worker request carries them
(:func:`settings_for_worker`) and the worker applies them (:func:`apply_worker_settings`) before it lists or
registers anything, so a worker sees the libraries its parent sees. Registering is the backends' job
(:mod:`genai_harness.backends.ep_plugins`). ``GENAI_HARNESS_EP_LIBRARIES=off`` in the environment switches every
plugin library off (the harness itself sets it to list an environment again when registering crashed it).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genai_harness.config import HarnessConfig
from genai_harness.errors import ConfigurationError
from genai_harness.trust import untrusted_reason

PACKAGE_PREFIX = "onnxruntime-ep-"
"""Distributions named so are plugin EP packages."""
SWITCH_ENV_VAR = "GENAI_HARNESS_EP_LIBRARIES"
"""Set to ``off``: no plugin EP library is found or registered in this process (nor in its workers)."""
SECTION = "ep_libraries"
"""The config table that names libraries by path."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class UntrustedLibrariesWarning(UserWarning):
    """A config file names EP libraries the harness will not load (see :mod:`genai_harness.trust`)."""


@dataclass(frozen=True)
class EpLibrary:
    """One plugin EP library: where it is, where the harness found it, and what it declares.

    ``name`` is its registration name (the package's distribution name, or the config key); ``source`` is
    ``package`` or ``config``; ``ep_names`` what the package declares (``get_ep_names()``), empty for a
    configured path. ``error`` says why the library cannot be used, before any attempt to load it.
    """

    name: str
    path: str
    source: str
    package: str = ""
    version: str = ""
    ep_names: tuple[str, ...] = field(default_factory=tuple)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (how a library crosses a subprocess boundary and lands in rows)."""
        data = asdict(self)
        data["ep_names"] = list(self.ep_names)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpLibrary:
        """Inverse of :meth:`to_dict`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["ep_names"] = tuple(known.get("ep_names") or ())
        return cls(**known)

    @property
    def described(self) -> str:
        """``onnxruntime-ep-openvino 1.8.1`` or ``my-npu (config: /opt/npu/libnpu_ep.so)``."""
        if self.package:
            return f"{self.package} {self.version}".strip()
        return f"{self.name} (config: {self.path})"


_settings: dict[str, Any] = {"configured": [], "discover": True}


def configure(libraries: list[EpLibrary], discover: bool = True) -> None:
    """Set this process's configured libraries (the parent, from its config) and whether packages are searched."""
    _settings["configured"] = [lib.to_dict() for lib in libraries]
    _settings["discover"] = discover


def settings_for_worker() -> dict[str, Any]:
    """What a worker request carries, so the worker uses the libraries its parent uses."""
    return {"configured": list(_settings["configured"]), "discover": bool(_settings["discover"])}


def apply_worker_settings(settings: Any) -> None:
    """Apply the settings a parent sent (:func:`settings_for_worker`); absent or malformed ones change nothing."""
    if not isinstance(settings, dict):
        return
    configured = [EpLibrary.from_dict(d) for d in settings.get("configured") or [] if isinstance(d, dict)]
    configure(configured, discover=bool(settings.get("discover", True)))


def libraries() -> list[EpLibrary]:
    """Every library this process uses: installed packages (unless switched off), then the configured ones."""
    if os.environ.get(SWITCH_ENV_VAR, "").strip().lower() == "off":
        return []
    found = discover_packages() if _settings["discover"] else []
    taken = {lib.name for lib in found}
    for data in _settings["configured"]:
        lib = EpLibrary.from_dict(data)
        if lib.name in taken:
            lib = EpLibrary(lib.name, lib.path, lib.source, error=f"[{SECTION}] name {lib.name!r} is also an "
                            "installed package's; rename it in the config")
        found.append(lib)
    return found


def discover_packages() -> list[EpLibrary]:
    """The plugin EP packages installed in this interpreter, each with its library path or why it has none."""
    found: dict[str, EpLibrary] = {}
    for dist in importlib.metadata.distributions():
        name = str(dist.metadata.get("Name") or "")
        canonical = re.sub(r"[-_.]+", "-", name).lower()
        if not canonical.startswith(PACKAGE_PREFIX) or canonical in found:
            continue
        found[canonical] = _from_package(canonical, dist)
    return [found[k] for k in sorted(found)]


def _from_package(name: str, dist: importlib.metadata.Distribution) -> EpLibrary:
    version = str(dist.version or "")
    modules = [m.strip() for m in (dist.read_text("top_level.txt") or "").splitlines() if m.strip()]
    module_name = modules[0] if modules else name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
        path = str(module.get_library_path())
        ep_names = tuple(str(n) for n in module.get_ep_names()) if hasattr(module, "get_ep_names") else ()
    except Exception as exc:  # an ImportError, a missing function, its own FileNotFoundError ...
        return EpLibrary(name, "", "package", name, version, error=(
            f"package {name} {version}: {module_name}.get_library_path() failed ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}); reinstall it"))
    return EpLibrary(name, path, "package", name, version, ep_names)


def configured_libraries(config: HarnessConfig) -> list[EpLibrary]:
    """The ``[ep_libraries]`` of ``config`` (paths made absolute against its folder).

    A malformed table raises :class:`ConfigurationError`; a config file the user has not approved contributes
    no library: one :class:`UntrustedLibrariesWarning` says so.
    """
    table = config.section(SECTION)
    for name, value in table.items():
        if not _NAME.match(str(name)):
            raise ConfigurationError(f"{config.path}: [{SECTION}] name {name!r} must be letters, digits, _.-; "
                                     "rename it")
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{config.path}: [{SECTION}] {name} must be the path of a shared library "
                                     f"(\"/path/to/libvendor_ep.so\"), got {value!r}; fix that line")
    if not table:
        return []
    untrusted = untrusted_reason(config)
    if untrusted:
        warnings.warn(untrusted, UntrustedLibrariesWarning, stacklevel=2)
        return []
    return [_checked(str(name), config.resolve(value), config) for name, value in table.items()]


def _checked(name: str, path: Path, config: HarnessConfig) -> EpLibrary:
    """A configured library, with the error a missing path or a folder gives (the runtime judges the rest)."""
    error = ""
    if not path.exists():
        error = f"EP library {name!r}: {path} does not exist; fix its path in [{SECTION}] of {config.path}"
    elif path.is_dir():
        error = (f"EP library {name!r}: {path} is a folder, not a shared library; give the library file "
                 f"(lib*.so / *.dll) in [{SECTION}] of {config.path}")
    return EpLibrary(name, str(path), "config", error=error)
