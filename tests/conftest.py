"""The suite's fixtures and session hooks; the helpers, and why the suite never touches a user's config, are in
:mod:`support` (tests/support/)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from support import smollm2
from support.postgres import PostgresServer

support.start_session()


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(support.SESSION_CONFIG.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def devices_json() -> dict[str, Any]:
    """One real `genai-harness devices --json`, run from the checkout (with the suite's own config)."""
    proc = support.run_cli("devices", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def ovep_listing(devices_json: dict[str, Any]) -> dict[str, Any]:
    """The ort-openvino environment of the shared listing (skip locally / fail in CI if not set up)."""
    support.require_ovep_python()
    names = [e["environment"] for e in devices_json["environments"]]
    if support.OVEP_ENV not in names:
        support.missing(f"environment {support.OVEP_ENV!r} is not registered in {support.SESSION_CONFIG} "
                        f"(have {names})")
    return support.environment(devices_json, support.OVEP_ENV)


@pytest.fixture(scope="session")
def smollm2_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose config has smollm2-135m's variants registered (built once, then reused)."""
    return smollm2.build(tmp_path_factory.mktemp("smollm2"))


@pytest.fixture(scope="session")
def smollm2_reference_store(smollm2_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store: smollm2-135m and -int4 on both runtimes with `run --reference` (once per session)."""
    return smollm2.measure(smollm2_env, tmp_path_factory.mktemp("smollm2-measured") / "r.sqlite")


@pytest.fixture
def room_for_stand_in_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ``models build`` (a script copying tiny-llm) writes kilobytes, so the real build's disk and memory
    check would only make its verdict depend on this machine's free space: such tests see room. The refusal has its
    own test, which sets what it sees after this."""
    from genai_harness.runner import model_build

    monkeypatch.setattr(model_build, "_free_gb", lambda path: 1000.0)
    monkeypatch.setattr(model_build, "_available_memory_gb", lambda: 1000.0)


@pytest.fixture
def fake_backend() -> Iterator[str]:
    """The fake backend registered in this process for one test."""
    with support.fake_registered() as framework:
        yield framework


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 server of the module's own (the PostgreSQL store's tests), removed after it."""
    srv = PostgresServer()
    try:
        yield srv
    finally:
        srv.remove()
