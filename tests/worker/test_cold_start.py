"""The cold-start logic of a cell (worker/cold_start.py) on a fake runtime that caches like OpenVINO does: a load
with an empty CACHE_DIR writes its blob, a load that finds it writes nothing. Which figure comes from which load,
and what a cache that cannot serve does, decided without a clock. tests/runner/test_cold_start_run.py runs the
same through real OpenVINO."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from genai_harness.backends import compile_cache as cc
from genai_harness.errors import ModelError
from genai_harness.interface.devices import Device
from genai_harness.worker import cold_start
from genai_harness.worker.load import LoadTime

DEVICE = Device("CPU", {"device": "CPU"}, framework="openvino.genai")
IDENTITY = cc.CacheIdentity("fakert 1.0", "CPU: a CPU", "", "fake CACHE_DIR")


class Caching:
    """A runtime that compiles in ``compile_s`` and imports its blob in ``import_s`` (times are given, not taken)."""

    def __init__(self, *, unreadable: bool = False, rewrites: bool = False) -> None:
        self.unreadable, self.rewrites = unreadable, rewrites
        self.loads: list[str] = []

    def compile_cache(self, device: Device) -> cc.CacheIdentity:
        return IDENTITY

    def load(self, device: Device) -> tuple[Any, LoadTime]:
        folder = device.config.get(cc.CACHE_DIR_KEY)
        blob = Path(folder) / "model.blob" if folder else None
        if blob is not None and blob.exists() and not self.rewrites:
            if self.unreadable:
                raise ModelError("cannot import the blob: bad magic")
            self.loads.append("import")
            return SimpleNamespace(), LoadTime(0.1)
        if blob is not None:
            blob.unlink(missing_ok=True)
            blob.write_bytes(b"c" * 3 * 2**20)
        self.loads.append("compile" + (" +blob" if blob is not None else ""))
        return SimpleNamespace(), LoadTime(2.0)

    def fresh(self, device: Device) -> Any:
        _pipeline, took = self.load(device)
        return SimpleNamespace(load_s=took.wall_s, loaded_from_cache=None)


def _cell(tmp_path: Path, runtime: Caching, *, cold: bool = False, extra: bool = True) -> dict[str, Any]:
    plan = cold_start.plan_cache(runtime, DEVICE, tmp_path / "model", "m", ("default", None),  # type: ignore[arg-type]
                                 str(tmp_path / "cache"), cold=cold)
    _pipeline, first = cold_start.first_load(runtime.load, DEVICE, plan)
    return cold_start.measure(runtime.fresh, DEVICE, plan, first, extra=extra)


def test_an_empty_cache_makes_the_cells_load_the_cold_one(tmp_path: Path) -> None:
    runtime = Caching()
    columns = _cell(tmp_path, runtime)
    assert runtime.loads == ["compile +blob", "compile", "import"]  # own load, then no cache, then warm
    assert columns["cache_state"] == "cold" and columns["cache_hit"] == 1 and columns["cache_note"] is None
    assert (columns["load_cold_s"], columns["compile_s"], columns["load_warm_s"]) == (2.0, 2.0, 0.1)
    assert columns["cache_mib"] == pytest.approx(3.0)
    assert columns["cache_key"] == f"{IDENTITY.key()}/{cc.model_key(tmp_path / 'model', 'm')}"
    assert (tmp_path / "cache" / columns["cache_key"] / "model.blob").is_file()


def test_a_warm_cache_makes_it_the_warm_one_and_the_cold_load_uses_a_scratch_folder(tmp_path: Path) -> None:
    _cell(tmp_path, Caching())
    runtime = Caching()
    columns = _cell(tmp_path, runtime)
    assert runtime.loads == ["import", "compile", "compile +blob"]
    assert columns["cache_state"] == "warm" and columns["cache_hit"] == 1
    assert (columns["load_warm_s"], columns["load_cold_s"], columns["cache_mib"]) == (0.1, 2.0, pytest.approx(3.0))
    device_folder = (tmp_path / "cache" / columns["cache_key"]).parent
    assert [p.name for p in device_folder.iterdir()] == [Path(columns["cache_key"]).name]  # no scratch left


def test_cold_empties_the_cache_first(tmp_path: Path) -> None:
    _cell(tmp_path, Caching())
    runtime = Caching()
    columns = _cell(tmp_path, runtime, cold=True, extra=False)
    assert runtime.loads == ["compile +blob"] and columns["cache_state"] == "cold"
    assert columns["load_cold_s"] == 2.0 and columns["compile_s"] is None and columns["load_warm_s"] is None


def test_a_cache_the_runtime_cannot_read_is_left_out_and_said(tmp_path: Path) -> None:
    _cell(tmp_path, Caching())
    runtime = Caching(unreadable=True)
    columns = _cell(tmp_path, runtime)
    assert runtime.loads == ["compile"]  # the failed import, then the load without a cache
    assert columns["cache_state"] == "off" and columns["compile_s"] == 2.0 and columns["load_cold_s"] is None
    assert "could not be read (cannot import the blob: bad magic); loaded without it" in columns["cache_note"]
    assert "delete the folder" in columns["cache_note"]


def test_a_runtime_that_writes_its_blob_again_is_no_warm_start(tmp_path: Path) -> None:
    runtime = Caching(rewrites=True)
    columns = _cell(tmp_path, runtime)
    assert columns["cache_state"] == "cold" and columns["cache_hit"] == 0
    assert "the warm load did not read the cache" in columns["cache_note"]


def test_a_cache_folder_that_cannot_be_created_is_left_out_and_said(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    runtime = Caching()
    columns = _cell(tmp_path, runtime)
    assert runtime.loads == ["compile"] and columns["cache_state"] == "off" and columns["compile_s"] == 2.0
    assert "cannot be created" in columns["cache_note"] and "GENAI_HARNESS_CACHE" in columns["cache_note"]


def test_a_failed_extra_load_costs_the_figures_not_the_cell(tmp_path: Path) -> None:
    runtime = Caching()
    plan = cold_start.plan_cache(runtime, DEVICE, tmp_path / "m", "m", ("default", None),  # type: ignore[arg-type]
                                 str(tmp_path / "cache"), cold=False)
    _pipeline, first = cold_start.first_load(runtime.load, DEVICE, plan)

    def dies_with_the_cache(device: Device) -> Any:
        if cc.CACHE_DIR_KEY in device.config:
            raise ModelError("the load worker died: killed by SIGKILL")
        return runtime.fresh(device)

    columns = cold_start.measure(dies_with_the_cache, DEVICE, plan, first)
    assert columns["load_cold_s"] == 2.0 and columns["compile_s"] == 2.0  # taken before the failing load: kept
    assert columns["load_warm_s"] is None and columns["cache_hit"] is None
    assert columns["cache_note"] == "cold-start loads failed: the load worker died: killed by SIGKILL"


def test_a_target_that_does_not_compile_records_nothing(tmp_path: Path) -> None:
    runtime = SimpleNamespace(compile_cache=lambda device: None)
    assert cold_start.plan_cache(runtime, DEVICE, tmp_path, "m", ("default", None), "", cold=True) is None  # type: ignore[arg-type]
    assert cold_start.measure(Caching().fresh, DEVICE, None, cold_start.FirstLoad("", LoadTime(1.0))) == {}


def test_a_runtime_that_writes_no_cache_says_so(tmp_path: Path) -> None:
    class Ignores(Caching):
        def load(self, device: Device) -> tuple[Any, LoadTime]:
            return super().load(Device("CPU", {}, framework="openvino.genai"))  # CACHE_DIR dropped on the floor

    columns = _cell(tmp_path, Ignores())
    assert columns["cache_state"] == "cold" and columns["cache_hit"] == 0 and columns["cache_mib"] == 0.0
    assert "the empty-cache load wrote nothing into" in columns["cache_note"]
