"""``genai-harness devices``: every backend and device of each Python environment, and the machine profile."""

from __future__ import annotations

import argparse
import json
from typing import Any

from genai_harness.backends.numerics import default_kv_cache, default_precision
from genai_harness.config import load_config
from genai_harness.host.energy import describe
from genai_harness.host.fingerprint import machine_profile
from genai_harness.runner.environments import configured_environments
from genai_harness.runner.inventory import EnvironmentInventory, collect_inventory
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
    """Profile, backends and devices of every environment (each with its default precision and KV-cache precision),
    energy counters."""
    if energy_rows is None:
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
                                    default_precision(d), default_kv_cache(d)))
            else:
                unusable.append(f"  [{env}] {d.framework} {d.label} ({d.execution_provider}): {d.reason}")
    parts.append("Backends")
    parts.append(format_table(["env", "framework", "state", "versions / reason"], backend_rows, max_width=160))
    parts.append("")
    parts.append("Usable devices (select with --device LABEL, or LABEL@env)")
    parts.append(format_table(["env", "framework", "label", "EP / plugin", "type", "vendor", "name",
                               "default precision", "default KV cache"], device_rows))
    parts.append("")
    parts.append("Seen but not usable here, in the runtime's own words")
    parts += unusable or ["  (none)"]
    parts.append("")
    parts += render_ep_libraries(inventories)
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


def ep_libraries(inventories: list[EnvironmentInventory]) -> list[dict[str, Any]]:
    """Every plugin EP library of every environment, each with its environment (``devices --json``'s list)."""
    return [{"environment": inv.environment.name, **lib} for inv in inventories for lib in inv.ep_libraries]


def render_ep_libraries(inventories: list[EnvironmentInventory]) -> list[str]:
    """The plugin EP libraries: where each is, what it offers (the targets' labels), or why it offers nothing."""
    lines = ["Plugin EP libraries (onnxruntime-ep-* packages, [ep_libraries] of the config)"]
    listed = ep_libraries(inventories)
    for lib in listed:
        origin = f"{lib.get('package')} {lib.get('version')}" if lib.get("package") else \
            f"config [ep_libraries] {lib.get('name')}"
        lines.append(f"  [{lib['environment']}] {lib.get('name')}: {origin}, {lib.get('path') or 'no library path'}")
        if lib.get("ep_names"):
            lines.append(f"      EP names: {', '.join(lib['ep_names'])}")
        for device in lib.get("devices") or []:
            meta = ", ".join(f"{k}={v}" for k, v in sorted((device.get("ep_metadata") or {}).items()))
            lines.append(f"      offers {device['label']} ({device['ep_name']} on {device['type']} "
                         f"{device.get('vendor', '')}{'; ' + meta if meta else ''})")
        if not lib.get("devices"):  # the reason is a sentence of its own: why it offers nothing or cannot be used
            lines.append(f"      {lib.get('reason') or 'offers no device (no reason given)'}")
    return lines + ([] if listed else ["  (none installed or configured)"])


def cmd_devices(args: argparse.Namespace) -> int:
    """Inventory every configured environment and print it (``--json``: as JSON)."""
    environments = configured_environments(load_config(args.config), args.python)
    inventories = collect_inventory(environments)
    profile = machine_profile({inv.environment.name: inv.versions() for inv in inventories
                               if not inv.environment.is_default})
    if args.json:
        print(json.dumps({"machine": profile, "environments": [inv.to_dict() for inv in inventories],
                          "ep_libraries": ep_libraries(inventories)}, indent=2))
        return 0
    print(render_devices(profile, inventories, show_all=args.all))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser("devices", help="list every backend, device and the machine profile")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--all", action="store_true", help="also list unavailable backends of other environments")
    p.set_defaults(handler=cmd_devices)
