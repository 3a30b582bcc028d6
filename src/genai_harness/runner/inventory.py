"""What every configured Python environment offers: its backends, their devices and runtime versions.

The parent's half of the inventory: :func:`collect_inventory` asks every environment through a worker subprocess
(its answer is :func:`genai_harness.worker.inventory.local_inventory`), so the parent imports no runtime.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from genai_harness.errors import HarnessError
from genai_harness.host.ep_libraries import SWITCH_ENV_VAR
from genai_harness.interface.devices import Device
from genai_harness.runner.environments import Environment
from genai_harness.runner.launcher import call_worker
from genai_harness.worker.protocol import InventoryRequest


@dataclass
class EnvironmentInventory:
    """One environment's answer, or why it could not answer."""

    environment: Environment
    backends: list[dict[str, Any]] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    python_version: str = ""
    error: str = ""
    ep_libraries: list[dict[str, Any]] = field(default_factory=list)
    """Its plugin EP libraries: what each offers, or why nothing (see :mod:`genai_harness.backends.ep_plugins`)."""

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
            "ep_libraries": self.ep_libraries,
        }


def inventory_of(environment: Environment, timeout_s: float = 180.0) -> EnvironmentInventory:
    """Ask one environment, in a subprocess, what it offers."""
    try:
        outcome = call_worker(environment, InventoryRequest(environment.name), timeout_s, what="device enumeration")
    except HarnessError as exc:
        return _without_libraries(environment, timeout_s, str(exc))
    reply = outcome.reply
    return EnvironmentInventory(environment, backends=reply.backends, devices=reply.devices,
                                python_version=reply.python_version, ep_libraries=reply.ep_libraries)


def _without_libraries(environment: Environment, timeout_s: float, error: str) -> EnvironmentInventory:
    """The inventory again with every plugin EP library off, after one that failed: a library that crashes the
    process that registers it (a native library can) must not hide the environment's other devices."""
    try:
        outcome = call_worker(environment, InventoryRequest(environment.name), timeout_s,
                              what="device enumeration", extra_env={SWITCH_ENV_VAR: "off"})
    except HarnessError:
        return EnvironmentInventory(environment, error=error)  # not the libraries' doing: the first error stands
    reply = outcome.reply
    crashed = {"name": "(every EP library)", "registered": False, "devices": [],
               "reason": f"registering the plugin EP libraries broke device enumeration ({error}); the environment "
                         f"was listed again without them. Find the library at fault by running with "
                         f"{SWITCH_ENV_VAR}=off and adding them back one at a time"}
    return EnvironmentInventory(environment, backends=reply.backends, devices=reply.devices,
                                python_version=reply.python_version, ep_libraries=[crashed])


def collect_inventory(environments: list[Environment]) -> list[EnvironmentInventory]:
    """Every environment's inventory, asked in parallel (an environment that fails is reported, not raised)."""
    with ThreadPoolExecutor(max_workers=max(1, len(environments))) as pool:
        return list(pool.map(inventory_of, environments))
