"""Expanding a suite into cells: framework x device x workload x model, per environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genai_harness.backends.numerics import check_precision, check_threads
from genai_harness.errors import ConfigurationError, DeviceUnavailableError, UnknownFrameworkError
from genai_harness.interface.devices import Device
from genai_harness.runner.environments import Environment
from genai_harness.runner.inventory import EnvironmentInventory
from genai_harness.workloads.buildable import BUILDABLE
from genai_harness.workloads.catalog import Catalog, CatalogModel, ModelFormat
from genai_harness.workloads.export_info import failed_exports
from genai_harness.workloads.spec import Workload
from genai_harness.workloads.suites import Suite


@dataclass(frozen=True)
class Cell:
    """One isolated measurement: a workload on a model, through one framework, on one device."""

    environment: Environment
    framework: str
    device: Device
    workload: Workload
    model: CatalogModel
    model_format: ModelFormat
    precision: str | None = None
    """The run's precision request (CLI/API); None: the workload's own (``[run] precision``)."""
    threads: int | None = None
    """The run's threads request (CLI/API); None: the workload's own (``[run] threads``)."""
    inject_slowdown: float | None = None
    """Gate calibration only: every measured span of the cell is stretched by this factor (None: off)."""
    measure: str = "time"
    """``time``, or ``instructions``: the cell runs under valgrind's callgrind (:mod:`genai_harness.runner.valgrind`)
    with one compute thread and also records executed instructions per phase."""
    cold: bool = False
    """``run --cold``: the cell's compiled-model cache is emptied first, so its load is the empty-cache start."""
    cold_start: bool = True
    """Take the cold-start loads (compile, empty cache, warm cache) the cell's own load is not; a run takes them once
    per target and model (:func:`genai_harness.runner.cell_loop.run_plan`); ``run --no-cold-start``: never."""
    machine_speed: bool = True
    """Time the machine-speed kernel beside the cell (``calib_ms``: what ``compare`` takes out of separate runs); off
    for ``ab``, whose paired rounds share their minutes and never read it."""

    @property
    def requested_numerics(self) -> tuple[str, int | None]:
        """(precision, threads) this cell asks for: the run's request over the workload's."""
        return (self.precision or self.workload.precision,
                self.threads if self.threads is not None else self.workload.threads)

    @property
    def label(self) -> str:
        """Short human-readable name."""
        env = "" if self.environment.is_default else f"@{self.environment.name}"
        return f"{self.framework} {self.device.label}{env} | {self.workload.id} | {self.model.id}"


@dataclass
class Plan:
    """The cells to run and the combinations that cannot run here, with why."""

    cells: list[Cell]
    skipped: list[str]
    failed_exports: list[dict] = field(default_factory=list)
    """Exports of a family the build recorded as failed (family suites only): each becomes one failed row, in the
    exporter's own words, beside the cells (see :func:`genai_harness.workloads.export_info.failed_exports`)."""


def _wanted(value: str, filters: list[str] | None) -> bool:
    return not filters or value in filters


def family_members(catalog: Catalog, model_ids: list[str]) -> list[str]:
    """Every catalog model of the families of ``model_ids`` (a model without a family stands for itself), in the
    order named, each family's variants sorted."""
    out: list[str] = []
    for model_id in model_ids:
        family = catalog.get(model_id).family or model_id
        members = sorted(m.id for m in catalog.models.values() if m.family == family) or [model_id]
        out += [m for m in dict.fromkeys([model_id, *members]) if m not in out]
    return out


def export_failures(catalog: Catalog, model_ids: list[str], workload: Workload) -> list[dict]:
    """The exports the builds of ``model_ids``' families recorded as failed, as row fragments for ``workload``."""
    rows: list[dict] = []
    builds: dict[Path, str] = {}
    for model_id in model_ids:
        model = catalog.get(model_id)
        for fmt in model.formats.values():
            if model.family and fmt.path.parent.parent.name == model.family:
                builds.setdefault(fmt.path.parent.parent, model.family)
    for build, family in builds.items():
        spec = BUILDABLE.get(family)
        ids = {v.folder: v.model_id for v in spec.variants} if spec else {}
        for failed in failed_exports(build):
            rows.append({"task": workload.task, "workload_id": workload.id, "workload_version": workload.version,
                         "workload_hash": workload.hash, "family": family,
                         "model_id": ids.get(failed["variant"], f"{family}/{failed['variant']}"),
                         "model_format": failed["format"], "status": "failed", "error_type": "ExportFailed",
                         "error": f"export failed: {failed['error']}", "exporter": failed["exporter"],
                         "exporter_version": failed["exporter_version"], "export_s": failed["export_s"]})
    return rows


def make_plan(suite: Suite, inventories: list[EnvironmentInventory], catalog: Catalog,
              frameworks: list[str] | None = None, devices: list[str] | None = None,
              models: list[str] | None = None, precision: str | None = None, threads: int | None = None) -> Plan:
    """Every runnable cell of ``suite`` on the usable devices of every environment.

    ``precision``/``threads`` (the CLI's or API's) override every workload's ``[run]`` request.
    """
    precision = check_precision(precision) if precision else None
    threads = check_threads(threads)
    known_frameworks = {b["framework"] for inv in inventories for b in inv.backends}
    for fw in frameworks or []:
        if fw not in known_frameworks:
            known = ", ".join(sorted(known_frameworks))
            raise UnknownFrameworkError(f"unknown framework {fw!r}; known frameworks: {known}")
    for model_id in models or []:
        catalog.get(model_id)
    cells: list[Cell] = []
    skipped: list[str] = []
    failed: list[dict] = []
    matched_devices: set[str] = set()
    for entry in suite.entries:
        workload = entry.workload
        model_ids = [m for m in (models or entry.models) if catalog.get(m).task == workload.task]
        if suite.family:
            model_ids = [m for m in family_members(catalog, model_ids) if catalog.get(m).task == workload.task]
            failed += export_failures(catalog, model_ids, workload)
        for inv in inventories:
            if inv.error:
                skipped.append(f"environment {inv.environment.name}: {inv.error}")
                continue
            for backend in inv.backends:
                fw = backend["framework"]
                if not backend["available"] or not _wanted(fw, frameworks) or workload.task not in backend["tasks"]:
                    continue
                format_key = backend.get("model_formats", {}).get(workload.task)
                for device in inv.devices:
                    if device.framework != fw or not device.available:
                        continue
                    if devices:
                        if not any(device.matches(sel) for sel in devices):
                            continue
                        matched_devices.update(sel for sel in devices if device.matches(sel))
                    elif device.config.get("virtual"):
                        continue  # AUTO & co. only when asked for by name
                    for model_id in model_ids:
                        model = catalog.get(model_id)
                        if format_key is None or format_key not in model.formats:
                            if suite.family:
                                continue  # an export this runtime cannot take: the matrix leaves its cell blank
                            env = "" if inv.environment.is_default else f"@{inv.environment.name}"
                            skipped.append(f"{fw} {device.label}{env} | {workload.id} | {model_id}: "
                                           f"no {format_key} format registered; add one with "
                                           f"`genai-harness models add {model_id} --task {workload.task} "
                                           f"--framework {fw} --path PATH`")
                            continue
                        cells.append(Cell(inv.environment, fw, device, workload, model, model.formats[format_key],
                                          precision, threads))
    unmatched = [sel for sel in devices or [] if sel not in matched_devices]
    if unmatched:
        usable = sorted({d.label + ("" if inv.environment.is_default else f"@{inv.environment.name}")
                         for inv in inventories for d in inv.devices if d.available})
        silent = [f"{lib.get('name')}: {lib.get('reason')}" for inv in inventories for lib in inv.ep_libraries
                  if not lib.get("devices") and any("-plugin" in sel.lower() for sel in unmatched)]
        raise DeviceUnavailableError(f"no usable device matches {', '.join(map(repr, unmatched))}; "
                                     f"usable: {', '.join(usable)} (see `genai-harness devices`)"
                                     + "".join(f"; plugin EP library {why}" for why in silent))
    if not cells and not skipped and not failed:
        raise ConfigurationError("the filters leave no cell to run; check --framework/--device/--model")
    return Plan(cells, skipped, failed)
