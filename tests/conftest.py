"""The suite's fixtures and session hooks; the helpers they use live in :mod:`support` (tests/support/).

Runtimes are never mocked here: device listings come from the installed onnxruntime,
onnxruntime-genai and OpenVINO (and from .venvs/ort-openvino, which `make setup` creates).
Fakes stand in only for harness logic.

The suite never reads nor writes the user's ./genai-harness.toml (models a user registered there would
change listings): GENAI_HARNESS_CONFIG points, for the whole session, at a temporary file of its own
that registers only the ort-openvino environment. Commands run from the checkout get it too; commands
run in a test's own folder read that folder's file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import support

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


@pytest.fixture
def fake_backend() -> Iterator[str]:
    """The fake backend registered in this process for one test."""
    with support.fake_registered() as framework:
        yield framework
