"""Suites: named lists of (workload, models) shipped with the package or given as a file.

A suite file::

    id = "smoke"
    description = "..."
    [[entries]]
    workload = "text-p64-g16"        # a file in workloads/standard/ (or a path)
    models = ["tiny-llm"]            # catalog ids; --model overrides

``family = true`` (top level) runs every variant of each model's family (every export of one checkpoint, the
exports suite), each on every runtime/EP that takes its format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_harness.errors import WorkloadError
from genai_harness.workloads.operators.suites import SUITES as OPERATOR_SUITES
from genai_harness.workloads.spec import Workload, load_workload, parse_workload, read_toml

HERE = Path(__file__).resolve().parent
STANDARD_DIR = HERE / "standard"
SUITES_DIR = HERE / "suites"


@dataclass(frozen=True)
class SuiteEntry:
    """One workload and the models it runs on."""

    workload: Workload
    models: tuple[str, ...]


@dataclass(frozen=True)
class Suite:
    """A named list of entries."""

    id: str
    description: str
    entries: tuple[SuiteEntry, ...]
    family: bool = False
    """Each model named stands for every variant of its family (the exports suite)."""


def standard_suites() -> list[str]:
    """Names of the suites shipped with the package (the operator suites, built in code, included)."""
    return sorted([*(p.stem for p in SUITES_DIR.glob("*.toml")), *OPERATOR_SUITES])


def standard_workloads() -> dict[str, Workload]:
    """Every workload shipped with the package, by id."""
    return {w.id: w for w in (load_workload(p) for p in sorted(STANDARD_DIR.glob("*.toml")))}


def _workload_ref(ref: str, base: Path) -> Workload:
    candidates = [STANDARD_DIR / f"{ref}.toml", base / ref, Path(ref)]
    for path in candidates:
        if path.is_file():
            return load_workload(path)
    raise WorkloadError(f"workload {ref!r} not found: not a standard workload ({', '.join(standard_workloads())}) "
                        "nor a file")


def load_suite(name_or_path: str) -> Suite:
    """A shipped suite by name, a suite file by path, or a single workload file (one entry, no models:
    the caller names them)."""
    path = SUITES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        path = Path(name_or_path)
        if not path.is_file():
            raise WorkloadError(f"unknown suite {name_or_path!r}; shipped suites: {', '.join(standard_suites())} "
                                "(or give a suite file path)")
    data = read_toml(path, "suite file")
    if "entries" not in data and "task" in data:  # a single workload file: a suite of one entry
        workload = parse_workload(data, str(path))
        return Suite(workload.id, workload.description, (SuiteEntry(workload, ()),))
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise WorkloadError(f"{path}: needs at least one [[entries]] table with workload = ... and models = [...] "
                            "(or give a single workload file, with id, version and task, and --model)")
    parsed = []
    for i, entry in enumerate(entries):
        where = f"{path} [[entries]] #{i + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("workload"), str):
            raise WorkloadError(f"{where}: field 'workload' (a workload id or file) is missing")
        models = entry.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise WorkloadError(f"{where}: field 'models' must be a list of model ids")
        parsed.append(SuiteEntry(_workload_ref(entry["workload"], path.parent), tuple(models)))
    family = data.get("family", False)
    if not isinstance(family, bool):
        raise WorkloadError(f"{path}: field 'family' must be true or false, got {family!r}")
    return Suite(str(data.get("id", path.stem)), str(data.get("description", "")), tuple(parsed), family)


def suite_in_memory(suite_id: str, entries: Sequence[tuple[Mapping[str, Any], Sequence[str]]]) -> Suite:
    """A suite of (workload tables, model ids) entries built in memory, no file written or read: each workload's
    tables (a workload file's, as a dict) are validated as a file's would be."""
    return Suite(suite_id, "", tuple(SuiteEntry(parse_workload(dict(tables), f"suite {suite_id} [[entries]] #{i + 1}"),
                                                tuple(models)) for i, (tables, models) in enumerate(entries)))
