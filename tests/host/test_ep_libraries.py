"""Finding plugin EP libraries (logic): installed packages, the [ep_libraries] table, its approval, the switch.

Packages here are small fake distributions on sys.path; the real onnxruntime-ep-openvino is exercised in
tests/backends/test_ep_plugins_real.py and tests/commands/test_ep_libraries_cli.py.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from genai_harness.config import HarnessConfig, load_config
from genai_harness.errors import ConfigurationError
from genai_harness.host import ep_libraries as eplib
from genai_harness.trust import approve, environments_digest, untrusted_reason


def fake_package(root: Path, dist: str, module: str, body: str) -> None:
    """A distribution ``dist`` (its dist-info and top_level.txt) whose module ``module`` has ``body``."""
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(body)
    info = root / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n")
    (info / "top_level.txt").write_text(module + "\n")


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "site"
    fake_package(root, "onnxruntime-ep-acme", "onnxruntime_ep_acme",
                 "def get_library_path():\n    return '/opt/acme/libacme_ep.so'\n"
                 "def get_ep_names():\n    return ['AcmeExecutionProvider']\n")
    fake_package(root, "onnxruntime-ep-broken", "onnxruntime_ep_broken",
                 "def get_library_path():\n    raise FileNotFoundError('plugin library not found at /x.so')\n")
    fake_package(root, "onnxruntime-extensions-fake", "not_an_ep", "X = 1\n")
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield root
    for name in ("onnxruntime_ep_acme", "onnxruntime_ep_broken", "not_an_ep"):
        sys.modules.pop(name, None)


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eplib, "_settings", {"configured": [], "discover": True})
    monkeypatch.delenv(eplib.SWITCH_ENV_VAR, raising=False)


def test_packages_named_onnxruntime_ep_are_found_with_their_library_and_ep_names(packages: Path) -> None:
    found = {lib.name: lib for lib in eplib.discover_packages()}
    acme = found["onnxruntime-ep-acme"]
    assert (acme.path, acme.ep_names, acme.version, acme.source) == (
        "/opt/acme/libacme_ep.so", ("AcmeExecutionProvider",), "0.3.1", "package")
    assert acme.error == ""
    assert "onnxruntime-extensions-fake" not in found


def test_a_package_whose_library_path_fails_is_listed_with_its_own_words(packages: Path) -> None:
    broken = {lib.name: lib for lib in eplib.discover_packages()}["onnxruntime-ep-broken"]
    assert broken.path == ""
    assert "plugin library not found at /x.so" in broken.error and "reinstall" in broken.error
    assert "\n" not in broken.error


def config_with(tmp_path: Path, table: str, explicit: bool = True) -> HarnessConfig:
    path = tmp_path / "genai-harness.toml"
    path.write_text(table)
    config = load_config(path)
    config.explicit = explicit
    return config


def test_configured_libraries_resolve_paths_and_say_what_is_wrong_with_each(tmp_path: Path) -> None:
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "libnpu_ep.so").write_bytes(b"\x7fELF")
    config = config_with(tmp_path, '[ep_libraries]\nnpu = "libs/libnpu_ep.so"\ngone = "/nope/libgone.so"\n'
                                   'folder = "libs"\n')
    libs = {lib.name: lib for lib in eplib.configured_libraries(config)}
    assert libs["npu"].path == str(tmp_path / "libs" / "libnpu_ep.so") and libs["npu"].error == ""
    assert libs["npu"].source == "config"
    assert "/nope/libgone.so does not exist" in libs["gone"].error and "[ep_libraries]" in libs["gone"].error
    assert "is a folder, not a shared library" in libs["folder"].error


@pytest.mark.parametrize("line", ['npu = 3', 'npu = ""', 'npu = ["a.so"]', '"bad name" = "x.so"'])
def test_a_malformed_ep_libraries_line_is_one_configuration_error(tmp_path: Path, line: str) -> None:
    config = config_with(tmp_path, f"[ep_libraries]\n{line}\n")
    with pytest.raises(ConfigurationError) as info:
        eplib.configured_libraries(config)
    assert "[ep_libraries]" in str(info.value) and "\n" not in str(info.value)


def test_an_unapproved_config_loads_no_library_and_warns_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_HARNESS_TRUST_FILE", str(tmp_path / "trusted.json"))
    config = config_with(tmp_path, '[ep_libraries]\nnpu = "/opt/npu/libnpu_ep.so"\n', explicit=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert eplib.configured_libraries(config) == []
    assert len(caught) == 1 and "names EP libraries that were not approved" in str(caught[0].message)
    approve(config)
    assert [lib.name for lib in eplib.configured_libraries(config)] == ["npu"]
    config.path.write_text('[ep_libraries]\nnpu = "/elsewhere/libnpu_ep.so"\n')  # an edit needs a new approval
    edited = load_config(config.path)
    edited.explicit = False
    assert untrusted_reason(edited) is not None


def test_the_approval_digest_of_a_config_without_ep_libraries_is_unchanged(tmp_path: Path) -> None:
    """Approvals given before [ep_libraries] existed still hold."""
    import hashlib
    import json

    config = config_with(tmp_path, '[environments.ov]\npython = "/usr/bin/python3"\n')
    before = hashlib.sha256(json.dumps(config.section("environments"), sort_keys=True).encode()).hexdigest()
    assert environments_digest(config) == before
    both = config_with(tmp_path, '[environments.ov]\npython = "/usr/bin/python3"\n[ep_libraries]\nx = "/x.so"\n')
    assert environments_digest(both) != before


def test_configured_libraries_follow_the_packages_and_a_clashing_name_is_refused(packages: Path) -> None:
    eplib.configure([eplib.EpLibrary("mine", "/opt/mine.so", "config"),
                     eplib.EpLibrary("onnxruntime-ep-acme", "/opt/other.so", "config")])
    libs = eplib.libraries()
    assert [lib.name for lib in libs][-2:] == ["mine", "onnxruntime-ep-acme"]
    assert "also an installed package's" in libs[-1].error
    assert libs[-2].error == ""


def test_the_switch_turns_every_library_off(packages: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    eplib.configure([eplib.EpLibrary("mine", "/opt/mine.so", "config")])
    assert eplib.libraries()
    monkeypatch.setenv(eplib.SWITCH_ENV_VAR, "off")
    assert eplib.libraries() == []


def test_a_worker_receives_its_parents_libraries() -> None:
    eplib.configure([eplib.EpLibrary("mine", "/opt/mine.so", "config")], discover=False)
    sent = eplib.settings_for_worker()
    eplib.configure([])
    eplib.apply_worker_settings(sent)
    assert [(lib.name, lib.path) for lib in eplib.libraries()] == [("mine", "/opt/mine.so")]
    eplib.apply_worker_settings("not a dict")  # a malformed request changes nothing
    assert [lib.name for lib in eplib.libraries()] == ["mine"]
