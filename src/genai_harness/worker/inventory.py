"""The worker's half of the inventory: the backends, devices and versions of the interpreter it runs in.

The parent's half (asking every environment, in a subprocess each) is :mod:`genai_harness.runner.inventory`.
"""

from __future__ import annotations

import platform
import sys

from genai_harness.backends.registry import backend_specs, backend_status, get_backend, register_specs
from genai_harness.errors import HarnessError
from genai_harness.interface.devices import Device
from genai_harness.worker.protocol import InventoryReply, InventoryRequest


def local_inventory(environment: str, parent_specs: list[dict[str, str]] | None = None) -> InventoryReply:
    """Backends, devices and versions of the running interpreter."""
    register_specs(parent_specs or [])
    backends, devices = [], []
    for framework in backend_specs():
        status = backend_status(framework, environment)
        if status.available:
            try:
                found = list(get_backend(framework, environment).enumerate_devices())
                if not all(isinstance(d, Device) for d in found):
                    raise TypeError("enumerate_devices returned something that is not a Device")
            except HarnessError as exc:
                status.available, status.reason = False, str(exc)
            except Exception as exc:
                status.available, status.reason = False, f"device enumeration failed: {type(exc).__name__}: {exc}"
            else:
                devices += found
        backends.append(status.to_dict())
    return InventoryReply(environment, sys.executable, platform.python_version(), backends, devices)


def run_inventory(request: InventoryRequest) -> InventoryReply:
    """The worker's ``inventory`` op."""
    return local_inventory(request.environment)
