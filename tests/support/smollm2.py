"""smollm2-135m built once and measured once per test session, for every room that needs the real variants.

``models build smollm2-135m`` runs for real (cached under the user's cache folder, so a second session reuses the
build); then one ``run --reference`` measures smollm2-135m and smollm2-135m-int4 on both runtimes against the float32
checkpoint. tests/runner/test_model_build_real.py checks the build and those rows; tests/dispatch checks the variant
ranking on the same rows. The fixtures (``smollm2_env``, ``smollm2_reference_store``) live in tests/conftest.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import support

WORKLOAD = support.REPO / "src/genai_harness/workloads/standard/text-p128-g32.toml"
FAMILY = "smollm2-135m"
MEASURED = ("smollm2-135m", "smollm2-135m-int4")
"""The variants the session's reference run measures (int8 is an OpenVINO-only build, left out to keep it short)."""


def stable_cache() -> Path:
    """The user's cache folder (the session points XDG_CACHE_HOME at a temporary one): builds survive sessions."""
    return Path(os.environ.get("GENAI_HARNESS_CACHE") or Path.home() / ".cache" / "genai-harness")


def build(folder: Path) -> dict[str, str]:
    """An environment whose config (in ``folder``) has smollm2-135m's variants registered (built once, reused)."""
    config = folder / "genai-harness.toml"
    config.write_text(support.SESSION_CONFIG.read_text())
    env = support.clean_env(GENAI_HARNESS_CONFIG=str(config), GENAI_HARNESS_CACHE=str(stable_cache()))
    proc = support.run_cli("models", "build", FAMILY, env=env, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "registered smollm2-135m, smollm2-135m-int4, smollm2-135m-int8" in proc.stdout
    return env


def measure(env: dict[str, str], store: Path) -> Path:
    """One real ``run --reference`` of the measured variants on every runtime that loads them, into ``store``."""
    args: list[str | os.PathLike[str]] = ["run", "--suite", WORKLOAD, "--store", store, "--reference", "--quiet"]
    for model in MEASURED:
        args += ["--model", model]
    proc = support.run_cli(*args, env=env, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    return store
