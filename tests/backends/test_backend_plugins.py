"""Backends are entry-point plugins, loaded lazily; a broken one is listed unavailable, never raised.

The third-party case is real: tests/plugin_dist is a separate distribution that pip installs into
a temporary folder; `genai-harness devices` then finds its backend through entry-point metadata.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from support import RUNTIME_MODULES, TESTS, backend, clean_env, devices_of, environment, run_cli, run_python

from genai_harness.backends import registry
from genai_harness.backends.base import TASK_CLASSIFICATION, Backend, first_line
from genai_harness.backends.registry import (
    ENTRY_POINT_GROUP,
    BackendSpec,
    backend_specs,
    backend_status,
    get_backend,
    register_spec,
)
from genai_harness.errors import BackendUnavailableError, UnknownFrameworkError
from genai_harness.factories import DeviceFactory
from genai_harness.worker.inventory import local_inventory

BUILTIN = {
    "onnxruntime": "genai_harness.backends.ort:OnnxRuntimeBackend",
    "onnxruntime_genai": "genai_harness.backends.ort_genai:OnnxRuntimeGenAIBackend",
    "openvino.genai": "genai_harness.backends.ov_genai:OpenVINOGenAIBackend",
}


class NoRuntimeBackend(Backend):
    framework: ClassVar[str] = "test.noruntime"
    tasks: ClassVar[tuple[str, ...]] = (TASK_CLASSIFICATION,)
    runtime_module: ClassVar[str] = "no_such_runtime_xyz"
    distributions: ClassVar[tuple[str, ...]] = ("no-such-runtime-xyz",)

    def enumerate_devices(self):
        raise AssertionError("never reached: the runtime does not import")


class FakeNPUBackend(Backend):
    framework: ClassVar[str] = "test.fake-npu"
    tasks: ClassVar[tuple[str, ...]] = (TASK_CLASSIFICATION,)
    runtime_module: ClassVar[str] = "json"
    distributions: ClassVar[tuple[str, ...]] = ("no-such-dist-xyz",)

    def enumerate_devices(self):
        return [self._device("NPU", config={"label_suffix": "Fake"}, type="NPU", vendor="Fake", name="Fake NPU")]


class CrashingEnumerationBackend(FakeNPUBackend):
    framework: ClassVar[str] = "test.crashing"

    def enumerate_devices(self):
        raise OSError("driver returned garbage")


NOT_A_BACKEND = object()


@pytest.fixture
def isolated_registry(monkeypatch):
    """Extra specs and loaded backends of this test only."""
    monkeypatch.setattr(registry, "_extra_specs", {})
    monkeypatch.setattr(registry, "_loaded", {})


def spec(framework: str, target: str) -> BackendSpec:
    return BackendSpec(framework, target)


# ---- the built-in backends are entry points, listed without importing anything ------------------

def test_backend_specs_list_builtin_entry_points_without_importing_runtimes():
    code = (
        "import json, sys\n"
        "from genai_harness.backends.registry import backend_specs\n"
        "specs = {name: s.target for name, s in backend_specs().items()}\n"
        "print(json.dumps({'specs': specs, 'modules': sorted(sys.modules)}))\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    for framework, target in BUILTIN.items():
        assert answer["specs"].get(framework) == target
    loaded = set(answer["modules"])
    for runtime in RUNTIME_MODULES:
        assert runtime not in loaded, f"listing backends imported {runtime}"
    assert not {m for m in loaded if m in {t.partition(":")[0] for t in BUILTIN.values()}}


def test_builtin_backends_come_from_package_metadata():
    import importlib.metadata

    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert {name: eps.get(name) for name in BUILTIN} == BUILTIN
    specs = backend_specs()
    assert list(specs) == sorted(specs)
    assert all(specs[name].distribution.replace("_", "-") == "genai-harness" for name in BUILTIN)


def test_a_registered_spec_loads_without_reading_the_installed_entry_points(isolated_registry, monkeypatch):
    """A worker is sent its parent's specs: loading one must not read every distribution's metadata again."""
    def no_entry_points() -> dict[str, BackendSpec]:
        raise AssertionError("the installed entry points were read")

    monkeypatch.setattr(registry, "_installed_specs", no_entry_points)
    register_spec(spec("test.npu", f"{__name__}:FakeNPUBackend"))
    assert isinstance(get_backend("test.npu"), FakeNPUBackend)


def test_a_registered_spec_wins_over_an_installed_one_of_the_same_name(isolated_registry):
    """The parent's choice is the worker's: listing and loading agree on which spec a framework has."""
    register_spec(spec("onnxruntime", f"{__name__}:FakeNPUBackend"))
    assert backend_specs()["onnxruntime"].target == f"{__name__}:FakeNPUBackend"
    assert isinstance(get_backend("onnxruntime"), FakeNPUBackend)


# ---- broken backends are reported, not raised ---------------------------------------------------

def test_backend_with_missing_module_is_unavailable_with_reason(isolated_registry):
    register_spec(spec("test.missing", "no_such_backend_module_xyz:Backend"))
    status = backend_status("test.missing")
    assert not status.available
    assert "failed to load" in status.reason
    assert "No module named 'no_such_backend_module_xyz'" in status.reason
    with pytest.raises(BackendUnavailableError):
        get_backend("test.missing")


def test_backend_whose_runtime_does_not_import_says_what_to_install(isolated_registry):
    register_spec(spec("test.noruntime", f"{__name__}:NoRuntimeBackend"))
    status = backend_status("test.noruntime")
    assert not status.available
    assert "importing no_such_runtime_xyz failed" in status.reason
    assert "install no-such-runtime-xyz" in status.reason
    assert status.to_dict()["available"] is False


def test_entry_point_that_is_not_a_backend_is_unavailable(isolated_registry):
    register_spec(spec("test.notabackend", f"{__name__}:NOT_A_BACKEND"))
    status = backend_status("test.notabackend")
    assert not status.available and "not a genai_harness Backend subclass" in status.reason


def test_unknown_framework_status_is_unavailable_not_raised(isolated_registry):
    status = backend_status("no.such.framework")
    assert not status.available and "known frameworks" in status.reason
    with pytest.raises(UnknownFrameworkError):
        get_backend("no.such.framework")


def test_working_extra_backend_reports_tasks_and_devices(isolated_registry):
    register_spec(spec("test.fake-npu", f"{__name__}:FakeNPUBackend"))
    status = backend_status("test.fake-npu")
    assert status.available and status.tasks == [TASK_CLASSIFICATION]
    assert status.versions == {}  # only installed distributions are listed
    assert get_backend("test.fake-npu") is get_backend("test.fake-npu")  # loaded once
    assert [d.label for d in DeviceFactory.enumerate("test.fake-npu")] == ["NPU:Fake"]


def test_local_inventory_survives_every_kind_of_broken_backend(isolated_registry):
    """The worker's inventory: real backends enumerate, broken ones become reasons."""
    extra = [
        spec("test.missing", "no_such_backend_module_xyz:Backend"),
        spec("test.noruntime", f"{__name__}:NoRuntimeBackend"),
        spec("test.crashing", f"{__name__}:CrashingEnumerationBackend"),
        spec("test.fake-npu", f"{__name__}:FakeNPUBackend"),
    ]
    answer = local_inventory("default", [s.__dict__ for s in extra])
    status = {b["framework"]: b for b in answer.backends}
    assert set(BUILTIN) <= set(status)
    assert all(status[name]["available"] for name in BUILTIN), {n: status[n]["reason"] for n in BUILTIN}
    assert not status["test.missing"]["available"]
    assert "install no-such-runtime-xyz" in status["test.noruntime"]["reason"]
    assert status["test.crashing"]["reason"] == "device enumeration failed: OSError: driver returned garbage"
    assert status["test.fake-npu"]["available"]
    frameworks = {d.framework for d in answer.devices}
    assert {"test.fake-npu", *BUILTIN} <= frameworks
    assert "test.crashing" not in frameworks
    assert answer.python == sys.executable


def test_first_line_keeps_the_runtime_words():
    message = "Exception from src/inference/src/core.cpp:123:\nCheck failed\nlibOpenCL.so.1: cannot open\n"
    assert first_line(message) == "libOpenCL.so.1: cannot open"
    assert first_line("x" * 400).endswith("...") and len(first_line("x" * 400)) == 300


# ---- a third-party distribution, installed for real ---------------------------------------------

@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """tests/plugin_dist pip-installed (no deps) into a temporary folder."""
    work = tmp_path_factory.mktemp("plugin")
    source = work / "src"
    shutil.copytree(TESTS / "plugin_dist", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = work / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, f"pip could not install the test plugin:\n{proc.stdout}\n{proc.stderr}"
    assert list(target.glob("acme_genai_backend-*.dist-info/entry_points.txt"))
    return target


@pytest.mark.slow
def test_third_party_backend_is_listed_lazily(plugin_site, tmp_path):
    code = (
        "import json, sys\n"
        "from genai_harness.backends.registry import backend_specs\n"
        "specs = {name: [s.target, s.distribution] for name, s in backend_specs().items()}\n"
        "print(json.dumps({'specs': specs, 'modules': sorted(sys.modules)}))\n"
    )
    proc = run_python(code, cwd=tmp_path, env=clean_env(PYTHONPATH=str(plugin_site)))
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["specs"]["acme.fake"][0] == "acme_genai_backend:AcmeFakeBackend"
    assert answer["specs"]["acme.fake"][1].replace("_", "-") == "acme-genai-backend"
    assert set(BUILTIN) <= set(answer["specs"])
    assert "acme_genai_backend" not in answer["modules"]


@pytest.mark.slow
def test_third_party_backend_and_its_npu_appear_in_devices(plugin_site, tmp_path):
    # From an empty folder: no config file, only the default environment.
    proc = run_cli("devices", "--json", cwd=tmp_path, env=clean_env(PYTHONPATH=str(plugin_site)))
    assert proc.returncode == 0, proc.stderr
    default = environment(json.loads(proc.stdout), "default")

    acme = backend(default, "acme.fake")
    assert acme["available"] and acme["reason"] == ""
    assert acme["target"] == "acme_genai_backend:AcmeFakeBackend"
    assert acme["versions"] == {"acme-genai-backend": "0.1.0"}
    assert acme["tasks"] == ["classification"]
    (npu,) = devices_of(default, "acme.fake")
    assert (npu["identifier"], npu["label"], npu["type"], npu["vendor"], npu["name"]) == (
        "NPU", "NPU:Acme", "NPU", "Acme", "Acme Fake NPU 1000")
    assert npu["available"] and npu["environment"] == "default"
    assert npu["execution_provider"] == "AcmeNPUExecutionProvider"

    missing = backend(default, "acme.missing")
    assert not missing["available"]
    assert "No module named 'acme_genai_backend_missing_module'" in missing["reason"]
    noruntime = backend(default, "acme.noruntime")
    assert not noruntime["available"]
    assert "install acme-npu-runtime" in noruntime["reason"]
    assert not devices_of(default, "acme.missing") and not devices_of(default, "acme.noruntime")

    # The built-in backends are unaffected by the plugin's broken neighbours.
    assert all(backend(default, name)["available"] for name in BUILTIN)
