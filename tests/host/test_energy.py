"""Energy readers against a fake powercap tree and a stubbed NVML (this VM exposes neither for real)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from genai_harness.host import energy
from genai_harness.interface import Device


def rapl_tree(root: Path, packages: dict[int, int], max_uj: int = 262_143_328_850) -> Path:
    """intel-rapl:N (package-N) with its core subzone, as the kernel lays them out."""
    for index, uj in packages.items():
        zone = root / f"intel-rapl:{index}"
        zone.mkdir(parents=True)
        (zone / "name").write_text(f"package-{index}\n")
        (zone / "energy_uj").write_text(f"{uj}\n")
        (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
        sub = root / f"intel-rapl:{index}:0"
        sub.mkdir()
        (sub / "name").write_text("core\n")
        (sub / "energy_uj").write_text("999999999\n")  # inside its package: never added again
    return root


def set_uj(root: Path, index: int, uj: int) -> None:
    (root / f"intel-rapl:{index}" / "energy_uj").write_text(f"{uj}\n")


def test_rapl_sums_the_packages_in_joules(tmp_path: Path) -> None:
    root = rapl_tree(tmp_path / "powercap", {0: 1_000_000, 1: 2_500_000})
    meter, why = energy.rapl_meter(root)
    assert meter is not None and why == ""
    assert meter.source == "rapl:intel-rapl:0,intel-rapl:1"
    start = meter.read_j()
    assert start == pytest.approx(3.5)
    set_uj(root, 0, 1_700_000)
    assert meter.delta_j(start, meter.read_j()) == pytest.approx(0.7)


def test_rapl_survives_one_wrap_around(tmp_path: Path) -> None:
    root = rapl_tree(tmp_path / "powercap", {0: 9_000_000}, max_uj=10_000_000)
    meter, _ = energy.rapl_meter(root)
    assert meter is not None
    start = meter.read_j()
    set_uj(root, 0, 500_000)  # wrapped past 10 J
    assert meter.delta_j(start, meter.read_j()) == pytest.approx(1.5)


@pytest.mark.parametrize(("layout", "reason"), [
    ("absent", "does not expose RAPL energy counters"),
    ("empty", "has no RAPL package domain"),
    ("garbage", "cannot read"),
])
def test_rapl_absent_or_broken_says_why(tmp_path: Path, layout: str, reason: str) -> None:
    root = tmp_path / "powercap"
    if layout != "absent":
        root.mkdir()
    if layout == "garbage":
        rapl_tree(root, {0: 1})
        set_uj(root, 0, 0)
        (root / "intel-rapl:0" / "energy_uj").write_text("not a number\n")
    meter, why = energy.rapl_meter(root)
    assert meter is None and reason in why


def nvml_stub(mj: list[float], fail: str = "") -> Any:
    calls = {"n": 0}

    def energy_mj(handle: Any) -> float:
        calls["n"] += 1
        return mj[min(calls["n"] - 1, len(mj) - 1)]

    def handle(index: int) -> Any:
        if fail == "no gpu":
            raise RuntimeError("NVML_ERROR_INVALID_ARGUMENT")
        return SimpleNamespace(index=index)

    def energy_or_fail(h: Any) -> float:
        if fail == "not supported":
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        return energy_mj(h)

    return SimpleNamespace(nvmlInit=lambda: None, nvmlDeviceGetHandleByIndex=handle,
                           nvmlDeviceGetTotalEnergyConsumption=energy_or_fail,
                           nvmlDeviceGetName=lambda h: b"NVIDIA H200")


def test_nvml_reads_the_gpus_total_energy_in_joules() -> None:
    meter, why = energy.nvml_meter(0, nvml_stub([0.0, 120_000.0, 121_500.0]))
    assert meter is not None and why == "" and meter.source == "nvml:0:NVIDIA H200"
    start = meter.read_j()
    assert meter.delta_j(start, meter.read_j()) == pytest.approx(1.5)


@pytest.mark.parametrize(("fail", "reason"), [("no gpu", "NVML_ERROR_INVALID_ARGUMENT"),
                                              ("not supported", "NVML_ERROR_NOT_SUPPORTED")])
def test_nvml_without_a_counter_says_why(fail: str, reason: str) -> None:
    meter, why = energy.nvml_meter(0, nvml_stub([1.0], fail))
    assert meter is None and reason in why and "NVML has no energy counter for GPU 0" in why


def test_each_device_gets_its_own_counter(tmp_path: Path) -> None:
    root = rapl_tree(tmp_path / "powercap", {0: 5})
    cuda = Device("GPU.1", config={"execution_provider": "CUDAExecutionProvider"}, execution_provider=
                  "CUDAExecutionProvider", type="GPU", vendor="NVIDIA")
    cpu = Device("CPU", type="CPU", execution_provider="CPUExecutionProvider")
    npu = Device("NPU", type="NPU", execution_provider="OpenVINOExecutionProvider")
    gpu_meter, _ = energy.meter_for(cuda, root, nvml_stub([1.0]))
    assert gpu_meter is not None and gpu_meter.source.startswith("nvml:1:")
    cpu_meter, _ = energy.meter_for(cpu, root)
    assert cpu_meter is not None and cpu_meter.source == "rapl:intel-rapl:0"
    none, why = energy.meter_for(npu, root)
    assert none is None and "no energy counter known for a NPU device" in why


def test_this_machine_is_described_truthfully() -> None:
    rows = dict(energy.describe())
    assert set(rows) == {"CPU (powercap/RAPL)", "NVIDIA GPU (NVML)"}
    expected = "available" if energy.POWERCAP_ROOT.is_dir() and energy.rapl_meter()[0] else "unavailable"
    assert rows["CPU (powercap/RAPL)"].startswith(expected)
