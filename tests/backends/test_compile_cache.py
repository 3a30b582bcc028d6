"""Compiled-model caches: the folder key (runtime version, device, driver, model), what a folder holds, when a folder
cannot serve, and how each backend says its target caches (real OpenVINO; onnxruntime EPs by their config)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genai_harness.backends import compile_cache as cc
from genai_harness.backends.ort import OnnxRuntimeBackend
from genai_harness.backends.ort_providers import ep_cache_mechanism
from genai_harness.backends.ov_genai import OpenVINOGenAIBackend
from genai_harness.interface.devices import Device


@given(st.text(min_size=0, max_size=300))
def test_a_slug_is_one_safe_path_part(text: str) -> None:
    part = cc.slug(text)
    assert part and "/" not in part and part not in (".", "..") and len(part) <= 80
    assert set(part) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def test_two_long_names_that_differ_at_the_end_keep_apart() -> None:
    a, b = "x" * 200 + "a", "x" * 200 + "b"
    assert cc.slug(a) != cc.slug(b)


def test_the_key_changes_with_runtime_version_device_and_driver() -> None:
    base = cc.CacheIdentity("openvino 2026.4.1", "NPU: Intel NPU 4000", "NPU_DRIVER_VERSION 1.2", "openvino CACHE_DIR")
    others = [cc.CacheIdentity("openvino 2026.5.0", base.device, base.driver, base.mechanism),
              cc.CacheIdentity(base.runtime, "NPU: Intel NPU 3720", base.driver, base.mechanism),
              cc.CacheIdentity(base.runtime, base.device, "NPU_DRIVER_VERSION 1.3", base.mechanism)]
    keys = {base.key(), *(o.key() for o in others)}
    assert len(keys) == 4 and all(k.count("/") == 1 for k in keys)


def test_the_model_key_changes_with_the_files_and_the_numerics(tmp_path: Path) -> None:
    keys = {cc.model_key(tmp_path / "a", "m"), cc.model_key(tmp_path / "b", "m"),
            cc.model_key(tmp_path / "a", "m", "f32"), cc.model_key(tmp_path / "a", "m", "default", 2)}
    assert len(keys) == 4 and all(k.startswith("m-") for k in keys)


def test_a_load_read_the_cache_when_it_wrote_nothing_there(tmp_path: Path) -> None:
    assert cc.snapshot(tmp_path / "missing") == {} and not cc.read_from_cache({}, {})
    blob = tmp_path / "1.blob"
    blob.write_bytes(b"x" * 2048)
    before = cc.snapshot(tmp_path)
    assert cc.read_from_cache(before, cc.snapshot(tmp_path))
    assert cc.size_mib(before) == pytest.approx(2048 / 2**20)
    blob.unlink()
    blob.write_bytes(b"y" * 4096)  # written again: another inode or size
    assert not cc.read_from_cache(before, cc.snapshot(tmp_path))
    (tmp_path / "2.blob").write_bytes(b"")
    assert not cc.read_from_cache(cc.snapshot(tmp_path) | {"3.blob": (1, 1, 1)}, cc.snapshot(tmp_path))


def test_a_folder_that_cannot_serve_says_why(tmp_path: Path) -> None:
    assert cc.unusable_reason(tmp_path / "a" / "b", tmp_path) == "" and (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("not a folder")
    assert "cannot be created" in cc.unusable_reason(tmp_path / "file" / "x", tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
    try:  # read-only by its mode: refused for root too (root could write there, the user said it must not)
        assert cc.unusable_reason(locked / "runtime" / "model", locked) == f"{locked} is read-only"
        assert not (locked / "runtime").exists()
    finally:
        os.chmod(locked, stat.S_IRWXU)


def test_emptying_a_folder_keeps_the_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.blob").write_bytes(b"1")
    (tmp_path / "y.blob").write_bytes(b"2")
    cc.empty(tmp_path)
    assert tmp_path.is_dir() and not list(tmp_path.iterdir())
    cc.empty(tmp_path / "missing")  # nothing to empty: no error


def test_openvino_keys_its_cache_by_its_build_and_the_devices_it_runs_on() -> None:
    import openvino

    backend = OpenVINOGenAIBackend()
    cpu = next(d for d in backend.enumerate_devices() if d.identifier == "CPU")
    identity = backend.compile_cache(cpu)
    assert identity.runtime == f"openvino {openvino.get_version()}" and identity.mechanism == "openvino CACHE_DIR"
    full_name = openvino.Core().get_property("CPU", "FULL_DEVICE_NAME")
    assert identity.device.startswith("CPU: CPU") and full_name in identity.device
    assert identity.driver == ""  # a CPU has no driver to read
    auto = backend.compile_cache(Device("AUTO", {"device": "AUTO"}, framework="openvino.genai"))
    assert auto.device.startswith("AUTO: CPU") and auto.key() != identity.key()  # AUTO over what is present


def test_an_onnxruntime_ep_caches_only_where_it_says_how() -> None:
    backend = OnnxRuntimeBackend()
    cpu = Device("CPU", {"execution_provider": "CPUExecutionProvider"}, framework="onnxruntime")
    assert backend.compile_cache(cpu) is None  # the CPU EP compiles nothing
    ov = Device("CPU", {"execution_provider": "OpenVINOExecutionProvider", "provider_options": {"device_type": "CPU"}},
                framework="onnxruntime")
    identity = backend.compile_cache(ov)
    assert identity is not None and identity.mechanism == "provider option cache_dir"
    assert "OpenVINOExecutionProvider CPU" in identity.device
    # a plugin EP target names its own way (EPContext models here) and, where it knows one, its driver
    plugin = Device("NPU", {"execution_provider": "VendorNpuExecutionProvider", "driver": "31.0.1",
                            cc.CACHE_MECHANISM_KEY: {cc.EPCONTEXT: True}}, framework="onnxruntime")
    identity = backend.compile_cache(plugin)
    assert identity is not None and identity.mechanism.startswith("EPContext") and identity.driver == "31.0.1"
    assert ep_cache_mechanism("VendorNpuExecutionProvider", {cc.CACHE_MECHANISM_KEY: {"nothing": 1}}) is None
