"""Cold start of a cell whose target compiles: compile time, empty- and warm-cache loads, and the cache's size.

The cell's own load (``load_s``, the first in its fresh worker process) uses the target's persistent cache folder
(:mod:`genai_harness.backends.compile_cache`): ``cold`` when the folder was empty (``run --cold`` empties it
first), ``warm`` when it held the compiled model. After the measurement the worker takes what that load did not,
each load in a fresh process of its own (:mod:`genai_harness.worker.load`), as an app's start is:

* ``compile_s``: a load with no cache at all (what every start costs without one);
* ``load_cold_s``: the cell's own load when it started cold; else a load into an empty scratch folder;
* ``load_warm_s``: the cell's own load when it started warm; else a second load from the folder just filled;
* ``cache_mib``: the compiled cache on disk after an empty-cache load.

Whether a warm load really read the cache is decided without a clock (``cache_hit``): by OpenVINO's
``LOADED_FROM_CACHE`` where the pipeline exposes its compiled model, else by the folder (a load that finds its blob
writes nothing). A cache folder that cannot be used (read-only, not creatable) or whose content the runtime cannot
read never fails the cell: the cell loads without it and ``cache_note`` says so, with the fix.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from genai_harness.backends import compile_cache as cc
from genai_harness.backends.base import Backend, first_line
from genai_harness.interface.devices import Device
from genai_harness.worker.load import LoadTime

Loader = Callable[[Device], tuple[Any, LoadTime]]
"""Builds the cell's pipeline on a device and gives it with its load time (wall and CPU)."""
FreshLoad = Callable[[Device], Any]
"""Loads the cell's pipeline on a device in a fresh process: a reply with ``load_s`` and ``loaded_from_cache``."""


@dataclass
class CachePlan:
    """The cache of one cell: its identity, folder (``key`` under the root), why it cannot serve ("" when it can),
    and its files before the cell's own load."""

    identity: cc.CacheIdentity
    folder: Path
    key: str
    unusable: str = ""
    before: cc.Snapshot = field(default_factory=dict)

    def device(self, device: Device, folder: Path | None = None) -> Device:
        """``device`` pointed at the cache folder (``folder`` instead where given)."""
        return replace(device, config={**device.config, cc.CACHE_DIR_KEY: str(folder or self.folder)})


@dataclass
class FirstLoad:
    """How the cell's own load went: ``cold``, ``warm`` or ``off`` (no cache), its time and what it left."""

    state: str
    took: LoadTime
    hit: bool | None = None
    after: cc.Snapshot = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def plan_cache(backend: Backend, device: Device, model_path: Path, model_id: str, numerics: tuple[str, int | None],
               root: str, *, cold: bool) -> CachePlan | None:
    """The cell's cache plan (None for a target that does not compile) under ``root`` (``""``: the harness's cache);
    ``cold`` empties the folder first. A backend that cannot describe its target gives an unusable plan, with why."""
    root = root or str(cc.default_root())
    try:
        identity = backend.compile_cache(device)
    except Exception as exc:  # a runtime that cannot describe the device: measured without a cache, said so
        identity = cc.CacheIdentity("?", device.identifier, "", "?")
        return CachePlan(identity, Path(root), "", unusable=f"its key could not be read ({first_line(exc)})")
    if identity is None:
        return None
    key = f"{identity.key()}/{cc.model_key(model_path, model_id, *numerics)}"
    folder = Path(root) / key
    unusable = cc.unusable_reason(folder, Path(root))
    if cold and not unusable:
        cc.empty(folder)
    return CachePlan(identity, folder, key, unusable, cc.snapshot(folder) if not unusable else {})


def first_load(load: Loader, device: Device, plan: CachePlan | None) -> tuple[Any, FirstLoad]:
    """The cell's own load, through its cache where it has one; a cache the runtime cannot read is left out."""
    if plan is None:
        pipeline, took = load(device)
        return pipeline, FirstLoad("", took)
    if plan.unusable:
        pipeline, took = load(device)
        return pipeline, FirstLoad("off", took, notes=[
            f"compiled-model cache not used: {plan.unusable}; loaded without a cache (make the folder writable "
            "or set GENAI_HARNESS_CACHE to a writable folder)"])
    try:
        pipeline, took = load(plan.device(device))
    except Exception as exc:
        if not plan.before:
            raise  # an empty cache cannot be the cause: the load's own error
        pipeline, took = load(device)
        return pipeline, FirstLoad("off", took, notes=[
            f"cache folder {plan.folder} could not be read ({first_line(exc)}); loaded without it (delete the "
            "folder to rebuild the cache)"])
    after = cc.snapshot(plan.folder)
    if not plan.before:
        return pipeline, FirstLoad("cold", took, after=after)
    hit = _hit(pipeline, plan.before, after)
    notes = [] if hit else [_miss_note(plan.folder, len(plan.before), pipeline)]
    return pipeline, FirstLoad("warm", took, hit, after, notes)


def measure(load: FreshLoad, device: Device, plan: CachePlan | None, first: FirstLoad, *,
            extra: bool = True) -> dict[str, Any]:
    """The cold-start columns of the cell (``{}`` for a target that does not compile): what its own load showed and,
    with ``extra``, the loads it did not show. A failed extra load is noted, never raised."""
    if plan is None:
        return {}
    columns: dict[str, Any] = {"cache_key": plan.key or None, "cache_state": first.state,
                               "compile_s": None, "load_cold_s": None, "load_warm_s": None, "cache_mib": None,
                               "cache_hit": None}
    notes = list(first.notes)
    if first.state == "off":
        columns["compile_s"] = first.took.wall_s  # the cell's own load compiled without a cache
    elif first.state == "cold":
        columns.update(load_cold_s=first.took.wall_s, cache_mib=cc.size_mib(first.after))
    else:
        columns.update(load_warm_s=first.took.wall_s, cache_hit=int(bool(first.hit)))
    if extra and first.state != "off":
        try:
            _extra_loads(load, device, plan, first, notes, columns)
        except Exception as exc:  # the measured rows stand; the cold-start figures say why they are missing
            notes.append(f"cold-start loads failed: {first_line(exc)}")
    columns["cache_note"] = "; ".join(notes) or None
    return columns


def _extra_loads(load: FreshLoad, device: Device, plan: CachePlan, first: FirstLoad, notes: list[str],
                 columns: dict[str, Any]) -> None:
    """Into ``columns``, as each is taken: compile_s, and the empty-cache or warm-cache load the cell's own load was
    not, each in a fresh process (a figure taken before a load fails is kept)."""
    columns["compile_s"] = load(device).load_s
    if first.state == "cold":
        before = cc.snapshot(plan.folder)
        reply = load(plan.device(device))
        hit = _hit(reply, before, cc.snapshot(plan.folder))
        columns.update(load_warm_s=reply.load_s, cache_hit=int(hit))
        if not hit:
            notes.append(_miss_note(plan.folder, len(before), reply))
        return
    scratch = plan.folder.parent / f"{cc.SCRATCH_PREFIX}{os.getpid()}"
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        cc.empty(scratch)
        columns["load_cold_s"] = load(plan.device(device, scratch)).load_s
        columns["cache_mib"] = cc.size_mib(cc.snapshot(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _hit(loaded: Any, before: cc.Snapshot, after: cc.Snapshot) -> bool:
    """Whether a load (its pipeline, or a fresh load's reply) read its compiled model from the cache: the runtime's
    own word where it gives one, else the folder's."""
    said = getattr(loaded, "loaded_from_cache", None)
    return bool(said) if said is not None else cc.read_from_cache(before, after)


def _miss_note(folder: Path, n_files: int, loaded: Any) -> str:
    if not n_files:
        return f"the warm load did not read the cache: the empty-cache load wrote nothing into {folder}"
    how = ("OpenVINO's LOADED_FROM_CACHE is false" if getattr(loaded, "loaded_from_cache", None) is not None
           else "the load wrote its compiled model again")
    return (f"the warm load did not read the cache: {folder} held {n_files} file(s) but {how} (a stale or corrupted "
            "cache, or a pipeline the runtime recompiles on every load)")
