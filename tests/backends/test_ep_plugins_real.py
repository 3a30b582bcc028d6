"""The real onnxruntime-ep-openvino, registered into the real onnxruntime (and onnxruntime-genai).

Machines of this kind are AMD EPYCs, where the plugin registers and offers no device, and Intel Xeons, where it
offers the CPU. Each test asks the runtime itself (in a fresh interpreter: a registration cannot be undone while
sessions live, and the plugin brings its own OpenVINO libraries) and then checks that the harness says exactly
that: the devices offered become ``CPU:OpenVINO-plugin`` targets whose cells run on the plugin and whose rows
name it, or ``devices`` lists the library with the reason it offers nothing. Neither case is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import environment, run_cli, run_python
from support.workload_files import text_suite

from genai_harness.results.store import load_results
from genai_harness.workloads.catalog import MODELS_DIR

PACKAGE = "onnxruntime-ep-openvino"

ASK_THE_RUNTIME = """
import json, onnxruntime as ort, onnxruntime_ep_openvino as plugin
before = {(d.ep_name, int(d.device.device_id), str(d.device.type)) for d in ort.get_ep_devices()}
ort.register_execution_provider_library("probe", plugin.get_library_path())
added = [d for d in ort.get_ep_devices() if (d.ep_name, int(d.device.device_id), str(d.device.type)) not in before]
print(json.dumps({"path": plugin.get_library_path(), "ep_names": plugin.get_ep_names(),
                  "added": [{"ep_name": d.ep_name, "type": str(d.device.type).rsplit(".", 1)[-1],
                             "metadata": dict(d.ep_metadata)} for d in added],
                  "vendors": sorted({str(d.device.vendor) for d in ort.get_ep_devices()})}))
"""


@pytest.fixture(scope="module")
def runtime_says() -> dict[str, Any]:
    """What onnxruntime itself lists after registering the plugin, asked without the harness."""
    proc = run_python(ASK_THE_RUNTIME)
    assert proc.returncode == 0, proc.stderr  # `make setup` installs the plugin: its absence is a failure
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def listed(devices_json: dict[str, Any]) -> dict[str, Any]:
    """The plugin as `genai-harness devices --json` lists it in the default environment."""
    found = [lib for lib in devices_json["ep_libraries"] if lib["environment"] == "default" and lib["name"] == PACKAGE]
    assert len(found) == 1, devices_json["ep_libraries"]
    return found[0]


def test_the_plugin_package_is_listed_with_its_library_and_version(listed: dict[str, Any],
                                                                   runtime_says: dict[str, Any]) -> None:
    assert listed["source"] == "package" and listed["package"] == PACKAGE and listed["version"] == "1.8.1"
    assert Path(listed["path"]).resolve() == Path(runtime_says["path"]).resolve()
    assert set(runtime_says["ep_names"]) <= set(listed["ep_names"])
    assert listed["registered"] is True and listed["onnxruntime"].startswith("1.")


def test_the_listing_says_what_the_runtime_offers_or_why_nothing(listed: dict[str, Any], runtime_says: dict[str, Any],
                                                                 devices_json: dict[str, Any]) -> None:
    offered = sorted((d["ep_name"], d["type"]) for d in listed["devices"])
    assert offered == sorted((d["ep_name"], d["type"]) for d in runtime_says["added"])
    labels = {d["label"] for d in environment(devices_json, "default")["devices"]
              if d["framework"] == "onnxruntime" and d["available"]}
    if runtime_says["added"]:  # an Intel CPU: every device offered is a target, with its metadata
        assert listed["reason"] == ""
        for device in listed["devices"]:
            assert device["label"] in labels and device["label"].endswith("-plugin")
        assert any(d["ep_metadata"].get("ov_device") == "CPU" for d in listed["devices"])
    else:  # an AMD CPU: listed, with the reason, and no target under the plugin's name
        assert not [label for label in labels if "plugin" in label]
        assert "registered into onnxruntime" in listed["reason"] and "offers no device" in listed["reason"]
        assert runtime_says["vendors"] and all(vendor in listed["reason"] for vendor in runtime_says["vendors"])


def test_the_text_listing_shows_the_plugin_and_its_offer(listed: dict[str, Any]) -> None:
    proc = run_cli("devices")
    assert proc.returncode == 0, proc.stderr
    section = proc.stdout.split("Plugin EP libraries", 1)[1].split("Energy counters", 1)[0]
    assert f"{PACKAGE}: {PACKAGE} 1.8.1" in section
    if listed["devices"]:
        assert "offers CPU:OpenVINO-plugin" in section
    else:
        assert "\n      " + listed["reason"] + "\n" in section


def classify_suite(folder: Path) -> Path:
    workload = folder / "classify-small.toml"
    workload.write_text('id = "classify-small"\nversion = 1\ntask = "classification"\n[input]\nbatch_size = 1\n'
                        '[run]\nwarmup = 1\nrepetitions = 3\ntimeout_s = 120\n')
    suite = folder / "suite.toml"
    suite.write_text(f'id = "plugin"\n[[entries]]\nworkload = "{workload}"\nmodels = ["squeezenet"]\n')
    return suite


def rows_of(store: Path) -> list[dict[str, Any]]:
    return load_results(store).to_dict("records")


def test_a_cell_on_the_plugin_runs_there_and_its_rows_name_it_or_the_run_says_why_not(
        tmp_path: Path, listed: dict[str, Any]) -> None:
    store = tmp_path / "s.sqlite"
    proc = run_cli("run", "--suite", classify_suite(tmp_path), "--framework", "onnxruntime", "--device",
                   "CPU:OpenVINO-plugin", "--store", store, "--quiet", cwd=tmp_path, timeout=600)
    if not any(d["label"] == "CPU:OpenVINO-plugin" for d in listed["devices"]):
        assert proc.returncode == 5, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert "no usable device matches 'CPU:OpenVINO-plugin'" in line and listed["reason"] in line
        return
    assert proc.returncode == 0, proc.stderr
    rows = rows_of(store)
    measured = [r for r in rows if r["status"] == "ok"]
    assert len(measured) == 3, rows
    for row in measured:
        assert row["device"] == "CPU:OpenVINO-plugin" and row["execution_provider"] == "OpenVINOExecutionProvider"
        assert row["ep_library"] == f"{PACKAGE} 1.8.1"
        options = json.loads(row["device_options"])
        assert options["ep_library"]["package"] == PACKAGE and options["ep_library"]["version"] == "1.8.1"
        numerics = json.loads(row["numerics"])
        assert numerics["cpu_ep_fallback"] == "off" and numerics["providers"][0] == "OpenVINOExecutionProvider"


def test_onnxruntime_genai_on_the_plugin_runs_or_says_why(tmp_path: Path, devices_json: dict[str, Any],
                                                          listed: dict[str, Any]) -> None:
    genai = [d for d in environment(devices_json, "default")["devices"]
             if d["framework"] == "onnxruntime_genai" and d["label"] == "CPU:OpenVINO-plugin"]
    if not listed["devices"]:
        assert genai == []  # nothing offered: no onnxruntime-genai target either
        return
    assert len(genai) == 1 and genai[0]["config"]["provider"] == "OpenVINO"
    store = tmp_path / "s.sqlite"
    proc = run_cli("run", "--suite", text_suite(tmp_path, repetitions=2), "--framework", "onnxruntime_genai",
                   "--device", "CPU:OpenVINO-plugin", "--store", store, "--quiet", cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = rows_of(store)
    assert rows and all(r["device"] == "CPU:OpenVINO-plugin" for r in rows)
    for row in rows:
        assert row["ep_library"] == f"{PACKAGE} 1.8.1"
        assert json.loads(row["device_options"])["ep_library"]["package"] == PACKAGE
        if row["status"] != "ok":  # the model has nodes the plugin cannot take: the runtime's refusal, named
            assert "fallback" in row["error"].lower() or "openvino" in row["error"].lower(), row["error"]


CELL_ON_A_PLUGIN_TARGET = """
import json
from genai_harness.errors import HarnessError
from genai_harness.factories import {factory}
from genai_harness.interface import Device
library, model = json.loads({payload!r})
key = {{"ep_name": "OpenVINOExecutionProvider", "type": "CPU", "vendor_id": 32902, "device_id": 987654}}
config = {{"execution_provider": "OpenVINOExecutionProvider", "provider_options": {{}}, "use_ep_devices": True,
          "ep_device": key, "ep_library": library, "label_suffix": "OpenVINO-plugin", "provider": "OpenVINO"}}
device = Device("CPU", config, framework="{framework}", execution_provider="OpenVINOExecutionProvider")
try:
    {factory}.create("{framework}", model, device)
    print(json.dumps({{"ok": True}}))
except HarnessError as exc:
    print(json.dumps({{"ok": False, "type": type(exc).__name__, "message": str(exc)}}))
"""


def cell_on_plugin_target(library: dict[str, Any], framework: str, model: Path) -> dict[str, Any]:
    factory = "ClassificationPipelineFactory" if framework == "onnxruntime" else "Text2TextPipelineFactory"
    payload = json.dumps([library, str(model)])
    proc = run_python(CELL_ON_A_PLUGIN_TARGET.format(factory=factory, framework=framework, payload=payload))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("framework", ["onnxruntime", "onnxruntime_genai"])
def test_a_plugin_target_whose_library_is_gone_fails_its_cell_in_one_line(tmp_path: Path, framework: str) -> None:
    gone = {"name": "acme", "path": str(tmp_path / "libacme_ep.so"), "source": "config", "package": "",
            "version": "", "ep_names": [], "error": ""}
    model = (MODELS_DIR / "tiny-llm" / "onnxruntime_genai") if framework == "onnxruntime_genai" else \
        Path(onnx_light("squeezenet"))
    answer = cell_on_plugin_target(gone, framework, model)
    assert answer["ok"] is False and answer["type"] == "DeviceUnavailableError", answer
    assert "CPU:OpenVINO-plugin" in answer["message"] and "libacme_ep.so" in answer["message"]
    assert "cannot register it" in answer["message"] and "\n" not in answer["message"]


def test_a_plugin_target_the_library_no_longer_offers_is_refused_not_run_elsewhere(listed: dict[str, Any]) -> None:
    """The plugin registers, but the device the target names is not among its offers (a device removed since
    the listing, say): the cell is refused by name, never run on the CPU EP under the plugin's label."""
    assert not [d for d in listed["devices"] if d["device_id"] == 987654]  # the key the test forges is offered nowhere
    library = {k: listed[k] for k in ("name", "path", "source", "package", "version")}
    answer = cell_on_plugin_target(library, "onnxruntime", Path(onnx_light("squeezenet")))
    assert answer["ok"] is False and answer["type"] == "DeviceUnavailableError", answer
    assert "no longer offers the EP device" in answer["message"]


def onnx_light(name: str) -> str:
    import onnx

    return str(Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx")
