"""What every run-like command prepares before its first cell: environments, inventory, plan, profile."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Prepared:
    """A plan with the inventories it came from and the machine profile its rows will carry."""

    plan: Any
    suite: Any
    inventories: list[Any]
    env_versions: dict[str, dict[str, str]]
    profile: dict[str, Any]


def prepare_run(suite: str, *, frameworks: Sequence[str] | None = None, devices: Sequence[str] | None = None,
                models: Sequence[str] | None = None, pythons: Sequence[str] = (), config: str | Path | None = None,
                environments_only: Sequence[str] | None = None, precision: str | None = None,
                threads: int | None = None) -> Prepared:
    """Load the config and suite, ask every environment (or only ``environments_only``) what it offers, plan."""
    from genai_harness.config import load_config
    from genai_harness.host.fingerprint import machine_profile
    from genai_harness.runner.environments import configured_environments
    from genai_harness.runner.inventory import collect_inventory
    from genai_harness.runner.plan import make_plan
    from genai_harness.workloads.catalog import Catalog
    from genai_harness.workloads.suites import load_suite

    cfg = load_config(Path(config) if config else None)
    environments = configured_environments(cfg, list(pythons))
    if environments_only is not None:
        environments = [e for e in environments if e.name in environments_only]
    suite_obj = load_suite(suite)
    inventories = collect_inventory(environments)
    plan = make_plan(suite_obj, inventories, Catalog(cfg), list(frameworks or []) or None,
                     list(devices or []) or None, list(models or []) or None, precision=precision, threads=threads)
    env_versions = {inv.environment.name: inv.versions() for inv in inventories}
    profile = machine_profile({k: v for k, v in env_versions.items() if k != "default"})
    return Prepared(plan, suite_obj, inventories, env_versions, profile)
