"""What one Python environment offers: its backends, their devices and runtime versions.

``local_inventory`` runs inside the environment (in the worker); ``collect_inventory`` asks
every configured environment through a subprocess, so the parent imports no runtime.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from typing import Any

from genai_harness.backends.registry import (
    backend_specs,
    backend_status,
    get_backend,
    register_specs,
)
from genai_harness.errors import HarnessError
from genai_harness.interface.devices import Device
from genai_harness.runner.environments import Environment
from genai_harness.runner.launcher import call_worker


def local_inventory(environment: str, parent_specs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Backends, devices and versions of the running interpreter."""
    register_specs(parent_specs or [])
    backends, devices = [], []
    for framework in backend_specs():
        status = backend_status(framework, environment)
        if status.available:
            try:
                devices += [d.to_dict() for d in get_backend(framework, environment).enumerate_devices()]
            except HarnessError as exc:
                status.available, status.reason = False, str(exc)
            except Exception as exc:
                status.available, status.reason = False, f"device enumeration failed: {type(exc).__name__}: {exc}"
        backends.append(status.to_dict())
    return {
        "environment": environment,
        "python": sys.executable,
        "python_version": platform.python_version(),
        "backends": backends,
        "devices": devices,
    }


@dataclass
class EnvironmentInventory:
    """One environment's answer, or why it could not answer."""

    environment: Environment
    backends: list[dict[str, Any]] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    python_version: str = ""
    error: str = ""

    def versions(self) -> dict[str, str]:
        """Runtime distribution versions seen in this environment."""
        merged: dict[str, str] = {}
        for backend in self.backends:
            merged.update(backend.get("versions", {}))
        return dict(sorted(merged.items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "environment": self.environment.name,
            "python": str(self.environment.python),
            "python_version": self.python_version,
            "source": self.environment.source,
            "error": self.error,
            "backends": self.backends,
            "devices": [d.to_dict() for d in self.devices],
        }


def inventory_of(environment: Environment, timeout_s: float = 180.0) -> EnvironmentInventory:
    """Ask one environment, in a subprocess, what it offers."""
    request = {"op": "inventory", "environment": environment.name}
    try:
        outcome = call_worker(environment, request, timeout_s, what="device enumeration")
    except HarnessError as exc:
        return EnvironmentInventory(environment, error=str(exc))
    resp = outcome.response
    return EnvironmentInventory(
        environment,
        backends=resp["backends"],
        devices=[Device.from_dict(d) for d in resp["devices"]],
        python_version=resp.get("python_version", ""),
    )


def collect_inventory(environments: list[Environment]) -> list[EnvironmentInventory]:
    """Every environment's inventory, asked in parallel (an environment that fails is reported, not raised)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, len(environments))) as pool:
        return list(pool.map(inventory_of, environments))
