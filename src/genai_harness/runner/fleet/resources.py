"""Ray custom resources that stand for devices: ``dev:<device label>@<environment>`` (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PREFIX = "dev:"
MACHINE_PREFIX = "machine:"


def device_resource(device_label: str, environment: str) -> str:
    """The resource of one device reached from one environment, e.g. ``dev:NPU:QNN@default``."""
    return f"{PREFIX}{device_label}@{environment}"


def node_resources(inventories: Iterable[Any], fingerprint: str) -> dict[str, float]:
    """The resources a node advertises: one unit per usable device, and its machine fingerprint."""
    resources = {f"{MACHINE_PREFIX}{fingerprint}": 1.0}
    for inventory in inventories:
        for device in inventory.devices:
            if device.available:
                resources[device_resource(device.label, inventory.environment.name)] = 1.0
    return resources


def missing_devices(needed: Iterable[str], offered: Iterable[str]) -> list[str]:
    """The device resources no node offers, sorted."""
    have = set(offered)
    return sorted({r for r in needed if r not in have})
