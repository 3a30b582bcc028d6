"""Python environments: the registered onnxruntime-openvino venv, `--python`, and `envs` (list/add/remove)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from support import (
    OVEP_ENV,
    SESSION_CONFIG,
    assert_one_error_line,
    backend,
    clean_env,
    devices_of,
    environment,
    require_ovep_python,
    run_cli,
)

from genai_harness.config import HarnessConfig, load_config
from genai_harness.errors import EnvironmentConfigError
from genai_harness.interface import Device
from genai_harness.runner.environments import (
    check_interpreter,
    configured_environments,
    parse_python_option,
)

OVEP = "OpenVINOExecutionProvider"


def by_label(env: dict[str, Any], framework: str = "onnxruntime") -> dict[str, dict[str, Any]]:
    return {d["label"]: d for d in devices_of(env, framework)}


# ---- the registered ort-openvino environment, enumerated for real ---------------------------------

@pytest.mark.ovep
def test_ovep_environment_is_listed_with_its_runtime(ovep_listing, devices_json):
    assert ovep_listing["error"] == ""
    assert ovep_listing["source"].startswith("config ")
    assert Path(ovep_listing["python"]).samefile(require_ovep_python())
    ort = backend(ovep_listing, "onnxruntime")
    assert ort["available"], ort["reason"]
    assert "onnxruntime-openvino" in ort["versions"]
    assert "onnxruntime" not in ort["versions"]  # the venv holds only the OpenVINO build
    version = ort["versions"]["onnxruntime-openvino"]
    assert devices_json["machine"]["runtimes"][OVEP_ENV] == {"onnxruntime-openvino": version}
    # The other runtimes are not installed there: listed, unavailable, with what to install.
    for framework, dist in (("onnxruntime_genai", "onnxruntime-genai"), ("openvino.genai", "openvino-genai")):
        b = backend(ovep_listing, framework)
        assert not b["available"] and f"install {dist}" in b["reason"], b


@pytest.mark.ovep
def test_ovep_cpu_device_and_unusable_npu_gpu(ovep_listing):
    devices = by_label(ovep_listing)
    cpu = devices["CPU:OpenVINO"]
    assert cpu["available"] and cpu["execution_provider"] == OVEP and cpu["type"] == "CPU"
    assert cpu["config"]["provider_options"] == {"device_type": "CPU"}
    assert cpu["environment"] == OVEP_ENV and cpu["vendor"] and cpu["name"]
    assert devices["CPU"]["execution_provider"] == "CPUExecutionProvider" and devices["CPU"]["available"]
    for label in ("NPU:OpenVINO", "GPU:OpenVINO"):
        d = devices[label]
        assert d["execution_provider"] == OVEP
        if not d["available"]:
            assert "get_available_openvino_device_ids()" in d["reason"], d["reason"]
            assert "silently run on the CPU EP" in d["reason"]


@pytest.mark.ovep
def test_ovep_listing_matches_what_its_runtime_reports(ovep_listing):
    code = (
        "import json, onnxruntime as ort\n"
        "from onnxruntime.capi import _pybind_state as capi\n"
        "print(json.dumps([ort.get_available_providers(), list(capi.get_available_openvino_device_ids())]))\n"
    )
    proc = subprocess.run([str(require_ovep_python()), "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    providers, ov_ids = json.loads(proc.stdout)
    assert OVEP in providers
    usable = {d["identifier"] for d in devices_of(ovep_listing, "onnxruntime")
              if d["execution_provider"] == OVEP and d["available"]}
    assert usable == set(ov_ids)
    listed_eps = {d["execution_provider"] for d in devices_of(ovep_listing, "onnxruntime") if d["available"]}
    assert listed_eps <= set(providers)


@pytest.mark.ovep
def test_ovep_device_selectors(ovep_listing, devices_json):
    ovep_cpu = Device.from_dict(by_label(ovep_listing)["CPU:OpenVINO"])
    default_cpu = Device.from_dict(by_label(environment(devices_json, "default"))["CPU"])
    assert ovep_cpu.matches("CPU:OpenVINO@ort-openvino") and ovep_cpu.matches("CPU")
    assert not default_cpu.matches("CPU:OpenVINO@ort-openvino") and not default_cpu.matches("CPU:OpenVINO")
    assert not ovep_cpu.matches("CPU@default")


@pytest.mark.ovep
def test_python_option_enumerates_the_same_interpreter(ovep_listing, tmp_path):
    python = require_ovep_python()
    proc = run_cli("--python", f"ovep-again={python}", "devices", "--json", cwd=tmp_path)  # no config file here
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert [e["environment"] for e in listing["environments"]] == ["default", "ovep-again"]
    again = environment(listing, "ovep-again")
    assert again["source"] == "--python" and Path(again["python"]).samefile(python)
    assert backend(again, "onnxruntime")["versions"] == backend(ovep_listing, "onnxruntime")["versions"]
    summary = {label: (d["execution_provider"], d["available"]) for label, d in by_label(again).items()}
    assert summary == {label: (d["execution_provider"], d["available"]) for label, d in by_label(ovep_listing).items()}
    assert all(d["environment"] == "ovep-again" for d in again["devices"])


@pytest.mark.ovep
def test_envs_lists_the_registered_environment(ovep_listing):
    proc = run_cli("envs")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    ovep_rows = [r for r in rows if r and r[0] == OVEP_ENV]
    assert ovep_rows, proc.stdout
    assert Path(ovep_rows[0][1]).samefile(require_ovep_python())
    assert ovep_rows[0][2] == "config"
    assert any(r and r[0] == "default" and r[1] == sys.executable for r in rows)


# ---- environments from the config file and --python ---------------------------------------------

def test_parse_python_option_forms():
    assert parse_python_option("x=/opt/py/bin/python3") == ("x", Path("/opt/py/bin/python3"))
    venv = ".venvs/ort-openvino/bin/python"
    assert parse_python_option(venv) == ("ort-openvino", Path(venv))  # named after its venv
    assert parse_python_option("/usr/bin/python3") == ("usr", Path("/usr/bin/python3"))  # the folder above bin/
    assert parse_python_option("/opt/tools/python3.11") == ("python3", Path("/opt/tools/python3.11"))
    for bad in ("bad name=/x", "=/x", "default=/usr/bin/python3", "-x=/y"):
        with pytest.raises(EnvironmentConfigError):
            parse_python_option(bad)


def test_configured_environments_resolve_against_the_config_folder(tmp_path):
    config = HarnessConfig(tmp_path / "genai-harness.toml",
                           {"environments": {"rel": {"python": "venv/bin/python"}, "abs": {"python": sys.executable}}})
    envs = configured_environments(config, [f"cli={sys.executable}", f"abs={sys.executable}"], check=False)
    assert [e.name for e in envs] == ["default", "rel", "cli", "abs"]
    assert envs[0].is_default and Path(envs[0].python) == Path(sys.executable)
    assert envs[1].python == tmp_path / "venv/bin/python"
    assert envs[3].source == "--python"  # the option overrides the file's entry of that name
    with pytest.raises(EnvironmentConfigError, match="does not exist"):
        configured_environments(config)  # checked by default: venv/bin/python is missing


def test_check_interpreter_accepts_python():
    check_interpreter(Path(sys.executable), "self")


# ---- `envs --add` / `--remove` on a temporary copy of the config ---------------------------------

@pytest.fixture
def config_copy(tmp_path) -> Path:
    """A copy of the checkout's config (or a stand-in) in a folder of its own."""
    path = tmp_path / "cfg" / "genai-harness.toml"
    path.parent.mkdir()
    stand_in = b'[environments.ort-openvino]\npython = ".venvs/ort-openvino/bin/python"\n'
    path.write_bytes(SESSION_CONFIG.read_bytes() or stand_in)
    return path


@pytest.mark.parametrize("kind", ["missing", "folder", "text file", "not python", "reserved name"])
def test_envs_add_validates_and_leaves_the_config_unchanged(config_copy, tmp_path, kind):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an interpreter\n")
    target = {
        "missing": f"x={tmp_path / 'nope' / 'bin' / 'python'}",
        "folder": f"x={tmp_path}",
        "text file": f"x={text_file}",
        "not python": "x=/bin/true",
        "reserved name": f"default={sys.executable}",
    }[kind]
    if kind == "not python" and not Path("/bin/true").exists():
        pytest.skip("no /bin/true")
    before = config_copy.read_bytes()
    proc = run_cli("--config", config_copy, "envs", "--add", target, cwd=tmp_path)
    assert_one_error_line(proc, exit_code=2)
    assert config_copy.read_bytes() == before
    assert not config_copy.with_name(config_copy.name + ".tmp").exists()


def test_envs_add_list_remove(config_copy, tmp_path):
    before = load_config(config_copy).section("environments")
    proc = run_cli("--config", config_copy, "envs", "--add", f"extra={sys.executable}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "registered environment 'extra'" in proc.stdout
    envs = load_config(config_copy).section("environments")
    assert envs == {**before, "extra": {"python": sys.executable}}

    listing = run_cli("--config", config_copy, "envs", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert any(line.split()[:2] == ["extra", sys.executable] for line in listing.stdout.splitlines())

    proc = run_cli("--config", config_copy, "envs", "--remove", "extra", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert load_config(config_copy).section("environments") == before

    unchanged = config_copy.read_bytes()
    proc = run_cli("--config", config_copy, "envs", "--remove", "extra", cwd=tmp_path)
    assert "no environment 'extra'" in assert_one_error_line(proc, exit_code=2)
    assert config_copy.read_bytes() == unchanged


def test_envs_add_relative_path_points_at_the_checked_interpreter(tmp_path):
    """A relative path typed in one folder, stored in a config file elsewhere, still names that interpreter."""
    work = tmp_path / "work"
    work.mkdir()
    config = tmp_path / "elsewhere" / "genai-harness.toml"
    config.parent.mkdir()
    config.write_text("")
    typed = os.path.relpath(sys.executable, work)
    assert not Path(typed).is_absolute() and (work / typed).exists()
    proc = run_cli("--config", config, "envs", "--add", f"rel={typed}", cwd=work)
    assert proc.returncode == 0, proc.stderr
    (env,) = configured_environments(load_config(config))[1:]
    assert env.python.exists() and env.python.samefile(sys.executable)


def test_envs_add_relative_path_kept_relative_beside_the_config(tmp_path):
    """`make setup` registers `.venvs/...` from the checkout: the file keeps it relative (portable)."""
    (tmp_path / "genai-harness.toml").write_text("")
    venv_python = tmp_path / "v" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sys.executable)
    proc = run_cli("envs", "--add", "v=v/bin/python", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert load_config(tmp_path / "genai-harness.toml").section("environments") == {"v": {"python": "v/bin/python"}}


def test_config_from_the_environment_variable(tmp_path):
    # a short folder: the listing cuts a cell past 70 characters, and pytest-xdist's worker folder lengthens tmp_path
    with tempfile.TemporaryDirectory(prefix="gh-env-") as short:
        config = Path(short) / "elsewhere.toml"
        config.write_text(f'[environments.from-env-var]\npython = "{sys.executable}"\n')
        proc = run_cli("envs", cwd=tmp_path, env=clean_env(GENAI_HARNESS_CONFIG=str(config)))
    assert proc.returncode == 0, proc.stderr
    row = next(line.split() for line in proc.stdout.splitlines() if line.startswith("from-env-var"))
    assert row == ["from-env-var", sys.executable, "config", str(config)]
