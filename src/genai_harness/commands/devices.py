"""The text rendering of ``genai-harness devices``."""

from __future__ import annotations

from typing import Any

from genai_harness.backends.numerics import default_precision
from genai_harness.runner.inventory import EnvironmentInventory
from genai_harness.tables import format_table


def render_profile(profile: dict[str, Any]) -> str:
    """The machine profile as a few readable lines."""
    cpu = profile["cpu"]
    lines = [
        f"Machine {profile['fingerprint']}  ({profile['hostname']})",
        f"  CPU     {cpu['brand']} [{cpu['arch']}], {cpu['physical_cores']} physical / "
        f"{cpu['logical_cores']} logical cores ({cpu['usable_cores']} usable), {len(cpu['flags'])} flags",
        f"  Memory  {profile['memory']['total_gb']} GB",
        f"  OS      {profile['os']['platform']}",
        f"  Python  {profile['python']['version']}",
    ]
    for env, versions in profile["runtimes"].items():
        listed = ", ".join(f"{k} {v}" for k, v in versions.items()) or "none"
        lines.append(f"  Runtimes [{env}]  {listed}")
    for name, driver in profile.get("drivers", {}).items():
        lines.append(f"  Driver  {name}: {driver}")
    return "\n".join(lines)


def render_devices(profile: dict[str, Any], inventories: list[EnvironmentInventory], show_all: bool = False,
                   energy_rows: list[tuple[str, str]] | None = None) -> str:
    """Profile, backends and devices of every environment (each with its default precision), energy counters."""
    if energy_rows is None:
        from genai_harness.host.energy import describe

        energy_rows = describe()
    parts = [render_profile(profile), ""]
    backend_rows, device_rows, unusable = [], [], []
    for inv in inventories:
        env = inv.environment.name
        if inv.error:
            backend_rows.append((env, "-", "unavailable", inv.error))
            continue
        for b in inv.backends:
            if not b["available"] and not inv.environment.is_default and not show_all:
                continue
            state = "available" if b["available"] else "unavailable"
            versions = ", ".join(f"{k} {v}" for k, v in b.get("versions", {}).items())
            backend_rows.append((env, b["framework"], state, versions if b["available"] else b["reason"]))
        for d in inv.devices:
            if d.available:
                device_rows.append((env, d.framework, d.label, d.execution_provider, d.type, d.vendor, d.name,
                                    default_precision(d)))
            else:
                unusable.append(f"  [{env}] {d.framework} {d.label} ({d.execution_provider}): {d.reason}")
    parts.append("Backends")
    parts.append(format_table(["env", "framework", "state", "versions / reason"], backend_rows, max_width=160))
    parts.append("")
    parts.append("Usable devices (select with --device LABEL, or LABEL@env)")
    parts.append(format_table(["env", "framework", "label", "EP / plugin", "type", "vendor", "name",
                               "default precision"], device_rows))
    parts.append("")
    parts.append("Seen but not usable here, in the runtime's own words")
    parts += unusable or ["  (none)"]
    parts.append("")
    parts.append("Energy counters (joules per cell, per token, per image where available)")
    parts += [f"  {label}: {state}" for label, state in energy_rows]
    notes = {b["framework"]: b.get("discovery_note", "") for inv in inventories for b in inv.backends
             if b.get("discovery_note")}
    if notes:
        parts.append("")
        parts.append("How devices were found")
        parts += [f"  {fw}: {note}" for fw, note in notes.items()]
    return "\n".join(parts)
