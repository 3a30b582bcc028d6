"""The worker's half of the inventory: the backends, devices and versions of the interpreter it runs in.

The parent's half (asking every environment, in a subprocess each) is :mod:`genai_harness.runner.inventory`.
"""

from __future__ import annotations

import platform
import sys

from genai_harness.backends.ep_plugins import library_report
from genai_harness.backends.registry import backend_specs, backend_status, get_backend, register_specs
from genai_harness.errors import HarnessError
from genai_harness.interface.devices import Device
from genai_harness.worker.protocol import InventoryReply, InventoryRequest


def local_inventory(environment: str, parent_specs: list[dict[str, str]] | None = None) -> InventoryReply:
    """Backends, devices and versions of the running interpreter.

    Backends that register plugin EP libraries are asked last: a plugin may bring its own copy of a runtime
    (onnxruntime-ep-openvino holds OpenVINO's libraries), and the other backends must load theirs first.
    """
    register_specs(parent_specs or [])
    statuses = {framework: backend_status(framework, environment) for framework in backend_specs()}
    found: dict[str, list[Device]] = {}
    order = sorted(statuses, key=lambda fw: statuses[fw].available and _registers_plugins(fw, environment))
    for framework in order:
        status = statuses[framework]
        if not status.available:
            continue
        try:
            listed = list(get_backend(framework, environment).enumerate_devices())
            if not all(isinstance(d, Device) for d in listed):
                raise TypeError("enumerate_devices returned something that is not a Device")
        except HarnessError as exc:
            status.available, status.reason = False, str(exc)
        except Exception as exc:
            status.available, status.reason = False, f"device enumeration failed: {type(exc).__name__}: {exc}"
        else:
            found[framework] = listed
    backends = [status.to_dict() for status in statuses.values()]
    devices = [d for framework in statuses for d in found.get(framework, [])]
    try:
        ep_libraries = library_report()
    except Exception as exc:  # a library that breaks the listing must not hide the environment's devices
        ep_libraries = [{"name": "?", "reason": f"listing the EP libraries failed: {type(exc).__name__}: {exc}"}]
    return InventoryReply(environment, sys.executable, platform.python_version(), backends, devices, ep_libraries)


def run_inventory(request: InventoryRequest) -> InventoryReply:
    """The worker's ``inventory`` op."""
    return local_inventory(request.environment)


def _registers_plugins(framework: str, environment: str) -> bool:
    return bool(getattr(get_backend(framework, environment), "registers_ep_libraries", False))
