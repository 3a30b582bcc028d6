"""Fleet runs on a real local Ray cluster of three nodes (``ray.cluster_utils.Cluster``), one per module.

The nodes advertise different device sets (the fake backend's CPU and NPU); the cells run in each node's
worker subprocess as in a local run and land on the node that offers their device; a node killed mid-run
turns its cell into a failed row with the reason while the others finish.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import FakeWorkspace, assert_one_error_line, fake_registered, run_cli

from genai_harness.errors import DeviceUnavailableError, StoreError
from genai_harness.results.store import ResultStore
from genai_harness.runner.fleet import ray_tasks
from genai_harness.runner.fleet.resources import device_resource, missing_devices, node_resources

ray = pytest.importorskip("ray", reason="the fleet extra (genai-harness[fleet]) is not installed")
from ray.cluster_utils import Cluster  # noqa: E402

CPU, NPU = device_resource("CPU", "default"), device_resource("NPU", "default")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    fast_failure = {"health_check_period_ms": 500, "health_check_failure_threshold": 4,
                    "health_check_initial_delay_ms": 0}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "_system_config": fast_failure})
    c.nodes_by_role = {"cpu": c.add_node(num_cpus=2, resources={CPU: 1}),
                       "npu": c.add_node(num_cpus=2, resources={NPU: 1})}
    c.wait_for_nodes()
    ray.init(address=c.address, logging_level="ERROR", log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def test_resources_of_a_node() -> None:
    class Inv:
        def __init__(self, name: str, devices: list[Any]) -> None:
            self.environment = type("E", (), {"name": name})()
            self.devices = devices

    dev = type("D", (), {})
    usable, broken = dev(), dev()
    usable.label, usable.available = "NPU:QNN", True
    broken.label, broken.available = "GPU", False
    assert node_resources([Inv("default", [usable, broken])], "abc") == {"machine:abc": 1.0, "dev:NPU:QNN@default": 1.0}
    assert missing_devices(["dev:A@x", "dev:B@x", "dev:A@x"], ["dev:B@x"]) == ["dev:A@x"]


def _workspace(tmp_path: Path, hang_timeout: float = 3) -> tuple[FakeWorkspace, Path]:
    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    ws.workload("slow", repetitions=1, timeout_s=hang_timeout)
    return ws, ws.suite("s", [("w", ["fake-ok"])])


def test_cells_land_on_the_node_that_has_their_device(cluster: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from genai_harness.runner.benchmark import run

    ws, suite = _workspace(tmp_path)
    placed: dict[str, str] = {}
    monkeypatch.setattr(ray_tasks, "run_plan_on_ray", functools.partial(
        ray_tasks.run_plan_on_ray, on_placed=lambda cell, node: placed.__setitem__(cell.device.label, node)))
    store = tmp_path / "fleet.sqlite"
    with fake_registered():
        frame = run(str(suite), frameworks=["fake"], devices=["CPU", "NPU"], store=store, config=ws.config,
                    progress=False, ray_address=cluster.address)
    assert sorted(set(frame["device"])) == ["CPU", "NPU"] and (frame["status"] == "ok").all()
    assert placed == {"CPU": cluster.nodes_by_role["cpu"].node_id, "NPU": cluster.nodes_by_role["npu"].node_id}
    stored = ResultStore(store, create=False).read()
    assert len(stored) == 4 and stored["machine_fingerprint"].str.len().eq(16).all()


def test_a_device_no_node_offers_is_refused_before_the_run(cluster: Any, tmp_path: Path) -> None:
    from genai_harness.runner.plan import Plan

    _ws, _ = _workspace(tmp_path)
    cell = type("C", (), {"device": type("D", (), {"label": "GPU.7"})(),
                          "environment": type("E", (), {"name": "default"})(), "label": "x"})()
    with pytest.raises(DeviceUnavailableError, match=r"dev:GPU\.7@default"):
        ray_tasks.run_plan_on_ray(Plan([cell], []), None, "unused", None, None, [], cluster.address)  # type: ignore[arg-type]


def rows_so_far(store: Path) -> int:
    """Rows in a store another thread is writing: none while its file does not exist or is still being created
    (sqlite creates the file empty and writes the header with the first table)."""
    try:
        return ResultStore(store, create=False).count() if store.exists() else 0
    except StoreError:
        return 0


def test_a_node_killed_mid_run_fails_its_cell_and_the_rest_finish(cluster: Any, tmp_path: Path) -> None:
    from genai_harness.runner.benchmark import run

    ws = FakeWorkspace(tmp_path)
    ws.workload("w", repetitions=2)
    # The hang cell on the CPU node ends only at its timeout, which the run waits for: long enough that the NPU
    # node's hang cell is still running when the node is killed a few seconds after the first rows, no longer.
    ws.workload("hang", repetitions=1, timeout_s=30)
    suite = ws.suite("s", [("w", ["fake-ok"]), ("hang", ["fake-hang"])])
    store = tmp_path / "fleet.sqlite"
    result: dict[str, Any] = {}

    def go() -> None:
        with fake_registered():
            try:
                result["frame"] = run(str(suite), frameworks=["fake"], devices=["CPU", "NPU"], store=store,
                                      config=ws.config, progress=False, ray_address=cluster.address)
            except BaseException as exc:
                result["error"] = exc

    thread = threading.Thread(target=go)
    thread.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the CPU cells finish; the hang cells wait on their devices
        if rows_so_far(store) >= 4:
            break
        time.sleep(0.5)
    time.sleep(2)
    cluster.remove_node(cluster.nodes_by_role["npu"], allow_graceful=False)
    thread.join(timeout=120)
    assert not thread.is_alive() and "error" not in result, result
    frame = result["frame"]
    npu = frame[frame["device"] == "NPU"]
    assert (frame[(frame["device"] == "CPU") & (frame["workload_id"] == "w")]["status"] == "ok").all()
    assert len(npu) >= 1 and (npu["status"] == "crashed").any()
    assert npu[npu["status"] == "crashed"]["error"].str.contains("Ray node running this cell failed").all()
    cluster.nodes_by_role["npu"] = cluster.add_node(num_cpus=2, resources={NPU: 1})


def test_a_ray_address_that_answers_nothing_is_one_line(tmp_path: Path) -> None:
    _ws, suite = _workspace(tmp_path)
    proc = run_cli("run", "--suite", suite, "--store", tmp_path / "s.sqlite", "--ray", "127.0.0.1:1", "--quiet",
                   cwd=tmp_path, timeout=180)
    assert "no Ray cluster answers at 127.0.0.1:1" in assert_one_error_line(proc)
