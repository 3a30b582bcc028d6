"""The one way to prepare a run, before its first cell: the config and its trust, the environments, the suite,
what every environment offers (its inventory), the plan, the machine profile, and the store (upgraded or refused).

``genai_harness.run`` (model and operator suites, and the pytest plugin through it), ``ab`` (both sides) and the
dispatcher's probe call :func:`prepare_run`; ``genai-harness node`` (no plan, no store) calls its first two steps,
:func:`load_setup` and :func:`survey`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from genai_harness.config import HarnessConfig, load_config
from genai_harness.errors import ConfigurationError, WorkloadError
from genai_harness.host.fingerprint import machine_profile
from genai_harness.results.store import SQLStore, open_for_writing
from genai_harness.runner.environments import Environment, configured_environments
from genai_harness.runner.inventory import EnvironmentInventory, collect_inventory
from genai_harness.runner.operator_plan import OperatorPlan, make_operator_plan
from genai_harness.runner.plan import Plan, make_plan
from genai_harness.workloads.catalog import Catalog
from genai_harness.workloads.operators.spec import OperatorSpec
from genai_harness.workloads.suites import Suite, load_suite

OperatorSuite = tuple[str, list[OperatorSpec]]
"""An operator suite as :func:`~genai_harness.workloads.operators.suites.load_operator_suite` gives it: (id, specs)."""


@dataclass(frozen=True)
class Setup:
    """The config (trusted or not) and the environments a run may use."""

    config: HarnessConfig
    environments: list[Environment]


def load_setup(config: str | Path | None = None, pythons: Sequence[str] = (), *,
               only: Sequence[str] | None = None) -> Setup:
    """The config (``None``: ./genai-harness.toml or $GENAI_HARNESS_CONFIG) and the environments: this interpreter,
    the config's (when it is trusted), then the ``pythons`` (``--python``), each checked; with ``only``, just those
    named."""
    cfg = load_config(Path(config) if config else None)
    environments = configured_environments(cfg, list(pythons))
    if only is not None:
        environments = [env for env in environments if env.name in only]
    return Setup(cfg, environments)


@dataclass
class Survey:
    """What each environment offers (its inventory), its runtime versions, and the profile rows carry."""

    inventories: list[EnvironmentInventory]
    env_versions: dict[str, dict[str, str]]
    profile: dict[str, Any]


def survey(environments: list[Environment]) -> Survey:
    """Ask every environment, each in a subprocess, what it offers; profile this machine with the runtime versions
    of the environments beside this interpreter."""
    inventories = collect_inventory(environments)
    env_versions = {inv.environment.name: inv.versions() for inv in inventories}
    profile = machine_profile({inv.environment.name: env_versions[inv.environment.name] for inv in inventories
                               if not inv.environment.is_default})
    return Survey(inventories, env_versions, profile)


@dataclass(frozen=True)
class Selection:
    """What one plan takes from the suite and the surveyed environments: filters (``None``: all) and the numerics
    requests (``None``: each workload's own)."""

    frameworks: Sequence[str] | None = None
    devices: Sequence[str] | None = None
    models: Sequence[str] | None = None
    precision: str | None = None
    threads: int | None = None
    environment: str | None = None
    """Plan on this environment alone (every environment is still surveyed: the profile names them all)."""


@dataclass
class Prepared:
    """A run ready for its first cell: its plans (one per selection), the suite, the survey and the open store."""

    plans: list[Plan | OperatorPlan]
    """A plan per selection (an OperatorPlan for an operator suite)."""
    suite: Suite | OperatorSuite
    inventories: list[EnvironmentInventory]
    env_versions: dict[str, dict[str, str]]
    profile: dict[str, Any]
    store: SQLStore
    """Opened, at the current schema version and writable (``results.store.open_for_writing``)."""

    @property
    def plan(self) -> Plan | OperatorPlan:
        """The plan of the first (for most runs, the only) selection."""
        return self.plans[0]


def prepare_run(suite: str | Path | Suite | OperatorSuite, selections: Selection | Sequence[Selection] | None = None,
                *, pythons: Sequence[str] = (), config: str | Path | None = None,
                environments_only: Sequence[str] | None = None, store: str | Path | None = None,
                out: TextIO | None = None) -> Prepared:
    """Everything before a run's first cell, in this order: the config and environments (only
    ``environments_only``, when given), the suite (a shipped name, a file, or one built in memory), every environment
    surveyed, a plan per selection (default: everything), the profile, and the store (``None``: $GENAI_HARNESS_STORE
    or the default) opened, upgraded or refused by ``open_for_writing``, whose messages go to ``out`` (stderr)."""
    setup = load_setup(config, pythons, only=environments_only)
    chosen = [Selection()] if selections is None else [selections] if isinstance(selections, Selection) \
        else list(selections)
    suite_obj = suite if isinstance(suite, (Suite, tuple)) else load_suite(str(suite))
    catalog = None
    if isinstance(suite_obj, Suite):
        for selection in chosen:
            check_models_named(suite_obj, selection.models, str(suite) if isinstance(suite, (str, Path)) else None)
        catalog = Catalog(setup.config)
    found = survey(setup.environments)
    plans = [plan_selection(suite_obj, found.inventories, catalog, selection) for selection in chosen]
    result_store = open_for_writing(store, out=out or sys.stderr)
    return Prepared(plans, suite_obj, found.inventories, found.env_versions, found.profile, result_store)


def check_models_named(suite: Suite, models: Sequence[str] | None, name: str | None = None) -> None:
    """Refuse (a WorkloadError, before any environment is asked) a suite entry with no models when none are given."""
    bare = next((entry for entry in suite.entries if not entry.models), None)
    if not models and bare is not None:
        raise WorkloadError(f"suite {name or suite.id!r} names no models for workload {bare.workload.id!r}; "
                            "give the models to run it on with --model ID (e.g. --model tiny-llm)")


def plan_selection(suite: Suite | OperatorSuite, inventories: list[EnvironmentInventory], catalog: Catalog | None,
                   selection: Selection) -> Plan | OperatorPlan:
    """The cells of ``suite`` that ``selection`` takes from the surveyed environments (an OperatorPlan for an
    operator suite: its cells take frameworks and devices only)."""
    if selection.environment is not None:
        known = ", ".join(inv.environment.name for inv in inventories)
        inventories = [inv for inv in inventories if inv.environment.name == selection.environment]
        if not inventories:
            raise ConfigurationError(f"env:{selection.environment}: no such environment; known: {known} "
                                     "(register one with `genai-harness envs --add NAME=PYTHON`)")
    frameworks, devices = _names(selection.frameworks), _names(selection.devices)
    if isinstance(suite, tuple):
        return make_operator_plan(suite[1], inventories, frameworks, devices)
    assert catalog is not None, "a model suite is planned with the config's catalog"
    return make_plan(suite, inventories, catalog, frameworks, devices, _names(selection.models),
                     precision=selection.precision, threads=selection.threads)


def _names(values: Sequence[str] | None) -> list[str] | None:
    return list(values) if values else None
