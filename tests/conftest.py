"""Shared fixtures: the checkout, a CLI runner, the one real `genai-harness devices --json` of the session.

Runtimes are never mocked here: device listings come from the installed onnxruntime,
onnxruntime-genai and OpenVINO (and from .venvs/ort-openvino, which `make setup` creates and
registers in ./genai-harness.toml). Fakes stand in only for harness logic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
OVEP_ENV = "ort-openvino"
OVEP_PYTHON = REPO / ".venvs" / OVEP_ENV / "bin" / "python"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
RUNTIME_MODULES = ("onnxruntime", "onnxruntime_genai", "openvino", "openvino_genai", "openvino_tokenizers")
DEVICE_KEYS = {
    "framework", "identifier", "label", "execution_provider", "type", "vendor", "name", "available", "reason",
    "environment", "config",
}


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).parent / "genai-harness"
    return [str(script)] if script.exists() else [sys.executable, "-m", "genai_harness.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without a config override, plus ``extra``."""
    env = dict(os.environ)
    env.pop("GENAI_HARNESS_CONFIG", None)
    env.update(extra)
    return env


def run_cli(*args: str | os.PathLike[str], cwd: Path | str = REPO, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``genai-harness ARGS`` as a real subprocess and capture its output."""
    return subprocess.run([*cli_command(), *map(str, args)], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def run_python(code: str, *, python: str | Path = sys.executable, cwd: Path | str = REPO,
               env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -c CODE`` in a fresh interpreter."""
    return subprocess.run([str(python), "-c", code], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def assert_one_error_line(proc: subprocess.CompletedProcess[str], exit_code: int | None = None) -> str:
    """A failed CLI run: non-zero exit, exactly one ``genai-harness: error:`` line, no traceback."""
    detail = f"rc={proc.returncode}\nstdout={proc.stdout!r}\nstderr={proc.stderr!r}"
    assert proc.returncode != 0, detail
    if exit_code is not None:
        assert proc.returncode == exit_code, detail
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, detail
    assert lines[0].startswith("genai-harness: error: "), detail
    assert "Traceback" not in proc.stderr + proc.stdout, detail
    assert proc.stdout == "", detail
    return lines[0]


def missing(reason: str) -> None:
    """Skip locally, fail under CI (which must have built everything the suite needs)."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must create it: run `make setup`)")
    pytest.skip(f"{reason}; run `make setup` to create it")


def require_ovep_python() -> Path:
    if not OVEP_PYTHON.exists():
        missing(f"{OVEP_PYTHON.relative_to(REPO)} (onnxruntime-openvino venv) does not exist")
    return OVEP_PYTHON


def environment(listing: dict[str, Any], name: str) -> dict[str, Any]:
    """One environment of a `devices --json` listing."""
    by_name = {e["environment"]: e for e in listing["environments"]}
    assert name in by_name, f"environment {name!r} not in {sorted(by_name)}"
    return by_name[name]


def backend(env: dict[str, Any], framework: str) -> dict[str, Any]:
    by_name = {b["framework"]: b for b in env["backends"]}
    assert framework in by_name, f"backend {framework!r} not in {sorted(by_name)}"
    return by_name[framework]


def devices_of(env: dict[str, Any], framework: str) -> list[dict[str, Any]]:
    return [d for d in env["devices"] if d["framework"] == framework]


@pytest.fixture(scope="session")
def devices_json() -> dict[str, Any]:
    """One real `genai-harness devices --json`, run from the checkout (so genai-harness.toml counts)."""
    proc = run_cli("devices", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def ovep_listing(devices_json: dict[str, Any]) -> dict[str, Any]:
    """The ort-openvino environment of the shared listing (skip locally / fail in CI if not set up)."""
    require_ovep_python()
    names = [e["environment"] for e in devices_json["environments"]]
    if OVEP_ENV not in names:
        missing(f"environment {OVEP_ENV!r} is not registered in {REPO / 'genai-harness.toml'} (have {names})")
    return environment(devices_json, OVEP_ENV)
