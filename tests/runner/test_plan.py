"""Planning a run: framework x device x workload x model per environment, from hand-built inventories."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from genai_harness.config import HarnessConfig
from genai_harness.errors import ConfigurationError, DeviceUnavailableError, ModelError, UnknownFrameworkError
from genai_harness.interface import Device
from genai_harness.runner.environments import Environment
from genai_harness.runner.inventory import EnvironmentInventory
from genai_harness.runner.plan import Plan, make_plan
from genai_harness.workloads.catalog import Catalog
from genai_harness.workloads.spec import parse_workload
from genai_harness.workloads.suites import Suite, SuiteEntry

TEXT = parse_workload({"id": "chat", "version": 1, "task": "text2text",
                       "input": {"prompt_tokens": 8, "new_tokens": 2}}, "chat.toml")
IMAGE = parse_workload({"id": "img", "version": 1, "task": "text2image", "input": {"width": 64, "height": 64}},
                       "img.toml")
DEFAULT = Environment("default", Path(sys.executable), "default")
OTHER = Environment("ovep", Path("/venvs/ovep/bin/python"), "config")


def backend(framework: str, tasks: dict[str, str], available: bool = True) -> dict[str, Any]:
    """A backend entry as an inventory reports it (BackendStatus.to_dict)."""
    return {"framework": framework, "target": f"pkg.{framework}:Backend", "available": available,
            "reason": "" if available else "runtime not installed", "tasks": list(tasks),
            "model_formats": tasks, "versions": {}}


def inventories(with_broken_env: bool = False) -> list[EnvironmentInventory]:
    default = EnvironmentInventory(
        DEFAULT,
        backends=[
            backend("fake", {"text2text": "fake", "text2image": "fake"}),
            backend("alt", {"text2text": "altfmt"}),
            backend("missing", {"text2text": "fake"}, available=False),
        ],
        devices=[
            Device("CPU", framework="fake"),
            Device("NPU", framework="fake"),
            Device("GPU", framework="fake", available=False, reason="no driver"),
            Device("AUTO", {"virtual": True}, framework="fake"),
            Device("CPU", {"label_suffix": "Alt"}, framework="alt"),
        ],
    )
    other = EnvironmentInventory(
        OTHER,
        backends=[backend("alt", {"text2text": "altfmt"})],
        devices=[Device("NPU", {"label_suffix": "Alt"}, framework="alt", environment="ovep")],
    )
    result = [default, other]
    if with_broken_env:
        result.append(EnvironmentInventory(Environment("dead", Path("/nope/python"), "config"),
                                           error="device enumeration died: killed by SIGSEGV"))
    return result


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    root = tmp_path_factory.mktemp("catalog")
    for folder in ("llm-fake", "llm-alt", "img-fake", "alt-only"):
        (root / folder).mkdir()
    data = {"models": {
        "llm": {"task": "text2text", "formats": {"fake": "llm-fake", "altfmt": "llm-alt"}},
        "llm-fake-only": {"task": "text2text", "formats": {"fake": "llm-fake"}},
        "llm-alt-only": {"task": "text2text", "formats": {"altfmt": "alt-only"}},
        "pic": {"task": "text2image", "formats": {"fake": "img-fake"}},
    }}
    return Catalog(HarnessConfig(root / "genai-harness.toml", data), models_dir=root / "no-bundled-models")


def suite(*entries: tuple[Any, tuple[str, ...]]) -> Suite:
    return Suite("test", "", tuple(SuiteEntry(w, m) for w, m in entries))


def labels(plan: Plan) -> list[str]:
    return [cell.label for cell in plan.cells]


def test_expansion_framework_device_workload_model(catalog: Catalog) -> None:
    plan = make_plan(suite((TEXT, ("llm", "llm-fake-only", "llm-alt-only")), (IMAGE, ("pic",))),
                     inventories(), catalog)
    assert labels(plan) == [
        "fake CPU | chat | llm", "fake CPU | chat | llm-fake-only",
        "fake NPU | chat | llm", "fake NPU | chat | llm-fake-only",
        "alt CPU:Alt | chat | llm", "alt CPU:Alt | chat | llm-alt-only",
        "alt NPU:Alt@ovep | chat | llm", "alt NPU:Alt@ovep | chat | llm-alt-only",
        "fake CPU | img | pic", "fake NPU | img | pic",
    ]
    by_label = {cell.label: cell for cell in plan.cells}
    cell = by_label["alt NPU:Alt@ovep | chat | llm"]
    assert cell.environment == OTHER and cell.framework == "alt" and cell.workload is TEXT
    assert cell.model.id == "llm" and cell.model_format.key == "altfmt"
    assert cell.model_format.path == catalog.get("llm").formats["altfmt"].path
    assert by_label["fake CPU | chat | llm"].model_format.key == "fake"
    # models without the format a framework loads are listed, not planned
    reasons = [line.split("; add one with ")[0] for line in plan.skipped]
    assert reasons == [
        "fake CPU | chat | llm-alt-only: no fake format registered",
        "fake NPU | chat | llm-alt-only: no fake format registered",
        "alt CPU:Alt | chat | llm-fake-only: no altfmt format registered",
        "alt NPU:Alt@ovep | chat | llm-fake-only: no altfmt format registered",
    ]
    # each line says how to fix it
    assert plan.skipped[0].endswith("`genai-harness models add llm-alt-only --task text2text --framework fake "
                                    "--path PATH`")


def test_unavailable_devices_and_backends_and_other_tasks_are_not_planned(catalog: Catalog) -> None:
    plan = make_plan(suite((IMAGE, ("pic",))), inventories(), catalog)
    assert labels(plan) == ["fake CPU | img | pic", "fake NPU | img | pic"]  # alt does no text2image
    assert not any("GPU" in label or "missing" in label for label in labels(make_plan(
        suite((TEXT, ("llm",))), inventories(), catalog)))


def test_virtual_devices_only_when_named(catalog: Catalog) -> None:
    assert not any("AUTO" in label for label in labels(make_plan(suite((TEXT, ("llm",))), inventories(), catalog)))
    plan = make_plan(suite((TEXT, ("llm",))), inventories(), catalog, devices=["auto"])
    assert labels(plan) == ["fake AUTO | chat | llm"]


def test_device_filter(catalog: Catalog) -> None:
    s = suite((TEXT, ("llm",)))
    assert labels(make_plan(s, inventories(), catalog, devices=["NPU"])) == [
        "fake NPU | chat | llm", "alt NPU:Alt@ovep | chat | llm"]
    assert labels(make_plan(s, inventories(), catalog, devices=["CPU:Alt"])) == ["alt CPU:Alt | chat | llm"]
    assert labels(make_plan(s, inventories(), catalog, devices=["@ovep"])) == ["alt NPU:Alt@ovep | chat | llm"]
    assert labels(make_plan(s, inventories(), catalog, devices=["cpu", "NPU:Alt@ovep"])) == [
        "fake CPU | chat | llm", "alt CPU:Alt | chat | llm", "alt NPU:Alt@ovep | chat | llm"]


@pytest.mark.parametrize("selectors", [["NOPE"], ["CPU", "NOPE"], ["GPU"], ["CPU@dead"]])
def test_unknown_or_unusable_device_lists_the_usable_ones(catalog: Catalog, selectors: list[str]) -> None:
    with pytest.raises(DeviceUnavailableError) as info:
        make_plan(suite((TEXT, ("llm",))), inventories(), catalog, devices=selectors)
    message = str(info.value)
    assert f"no usable device matches {selectors[-1]!r}" in message
    assert "usable: AUTO, CPU, CPU:Alt, NPU, NPU:Alt@ovep" in message
    assert "GPU," not in message.split("usable:")[1]
    assert "genai-harness devices" in message
    assert info.value.exit_code == 5


def test_device_filter_matching_nothing_for_this_workload_is_refused(catalog: Catalog) -> None:
    # NPU:Alt exists, but alt does not do text2image: the selector matched nothing this suite can run
    with pytest.raises(DeviceUnavailableError, match="'NPU:Alt'"):
        make_plan(suite((IMAGE, ("pic",))), inventories(), catalog, devices=["NPU:Alt"])


def test_framework_filter(catalog: Catalog) -> None:
    plan = make_plan(suite((TEXT, ("llm",)), (IMAGE, ("pic",))), inventories(), catalog, frameworks=["alt"])
    assert labels(plan) == ["alt CPU:Alt | chat | llm", "alt NPU:Alt@ovep | chat | llm"]


def test_unknown_framework(catalog: Catalog) -> None:
    with pytest.raises(UnknownFrameworkError) as info:
        make_plan(suite((TEXT, ("llm",))), inventories(), catalog, frameworks=["nosuch"])
    assert str(info.value) == "unknown framework 'nosuch'; known frameworks: alt, fake, missing"
    assert info.value.exit_code == 2


def test_a_known_but_unavailable_framework_leaves_nothing_to_run(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="no cell to run"):
        make_plan(suite((TEXT, ("llm",))), inventories(), catalog, frameworks=["missing"])


def test_model_override(catalog: Catalog) -> None:
    plan = make_plan(suite((TEXT, ("llm",)), (IMAGE, ("pic",))), inventories(), catalog,
                     frameworks=["fake"], models=["llm-fake-only"])
    assert labels(plan) == ["fake CPU | chat | llm-fake-only", "fake NPU | chat | llm-fake-only"]  # no image model


@pytest.mark.parametrize("where", ["option", "suite"])
def test_unknown_model(catalog: Catalog, where: str) -> None:
    s = suite((TEXT, ("nosuch",) if where == "suite" else ("llm",)))
    with pytest.raises(ModelError) as info:
        make_plan(s, inventories(), catalog, models=["nosuch"] if where == "option" else None)
    assert "unknown model 'nosuch'; known models:" in str(info.value)
    assert "llm-fake-only" in str(info.value) and "models add" in str(info.value)
    assert info.value.exit_code == 3


def test_known_client_model_without_files_is_skipped_with_the_reason(catalog: Catalog) -> None:
    plan = make_plan(suite((TEXT, ("phi-3.5-mini-instruct", "llm"))), inventories(), catalog, frameworks=["fake"])
    assert labels(plan) == ["fake CPU | chat | llm", "fake NPU | chat | llm"]
    assert any(line.startswith("fake CPU | chat | phi-3.5-mini-instruct: no fake format registered; add one")
               for line in plan.skipped)


def test_only_skips_is_a_plan_not_an_error(catalog: Catalog) -> None:
    plan = make_plan(suite((TEXT, ("phi-3.5-mini-instruct",))), inventories(), catalog)
    assert plan.cells == [] and len(plan.skipped) == 2 + 2


def test_an_environment_that_failed_to_answer_is_skipped_with_its_error(catalog: Catalog) -> None:
    plan = make_plan(suite((TEXT, ("llm",))), inventories(with_broken_env=True), catalog, frameworks=["fake"])
    assert labels(plan) == ["fake CPU | chat | llm", "fake NPU | chat | llm"]
    assert plan.skipped == ["environment dead: device enumeration died: killed by SIGSEGV"]
