"""Planning operator cells: each operator spec on every runtime/EP target that can take an ONNX model.

Targets come from the same per-environment inventories as every other cell: onnxruntime on each of its
usable devices (every EP, every environment, the OpenVINO EP venv included) and OpenVINO reading the ONNX
file directly through ``openvino.Core`` (reached through the ``openvino.genai`` backend's physical devices;
the rows say ``runtime = openvino``). Virtual devices (AUTO, HETERO ...) only when asked for by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from genai_harness.errors import ConfigurationError, DeviceUnavailableError, UnknownFrameworkError
from genai_harness.interface.devices import FRAMEWORK_ORT, FRAMEWORK_OV_GENAI, Device
from genai_harness.runner.environments import Environment
from genai_harness.runner.inventory import EnvironmentInventory
from genai_harness.worker.protocol import OperatorCellRequest
from genai_harness.workloads.operators.spec import MIN_REPETITIONS, OperatorSpec

ONNX_RUNTIMES = {FRAMEWORK_ORT: "onnxruntime", FRAMEWORK_OV_GENAI: "openvino"}
"""Frameworks whose runtime takes a bare ONNX model, and that runtime's name."""


@dataclass(frozen=True)
class OperatorCell:
    """One operator spec on one runtime target."""

    environment: Environment
    framework: str
    device: Device
    spec: OperatorSpec

    @property
    def runtime(self) -> str:
        """The runtime that executes the model (``onnxruntime`` or ``openvino``)."""
        return ONNX_RUNTIMES[self.framework]

    @property
    def label(self) -> str:
        """``runtime device[@env] | workload`` (OpenVINO direct reads the ONNX file: its runtime is named)."""
        env = "" if self.environment.is_default else f"@{self.environment.name}"
        return f"{self.runtime} {self.device.label}{env} | {self.spec.name}"

    def request(self, cell_id: int, model: str, feeds: str, output: str) -> OperatorCellRequest:
        """The worker's description of this cell."""
        return OperatorCellRequest(
            id=cell_id, runtime=self.runtime, model=model, feeds=feeds, output=output,
            execution_provider=self.device.execution_provider,
            provider_options=dict(self.device.config.get("provider_options", {})),
            device=str(self.device.config.get("device", self.device.identifier)),
            dtype=self.spec.dtype, repetitions=self.spec.repetitions, warmup=self.spec.warmup,
            max_time_s=self.spec.max_time_s, min_repetitions=min(MIN_REPETITIONS, self.spec.repetitions),
            ep_library=self.device.config.get("ep_library"),
            ep_device=self.device.config.get("ep_device") if self.device.config.get("ep_library") else None)


@dataclass
class OperatorPlan:
    """The operator cells to run and the targets that cannot run here, with why."""

    cells: list[OperatorCell]
    skipped: list[str]


def make_operator_plan(specs: list[OperatorSpec], inventories: list[EnvironmentInventory],
                       frameworks: list[str] | None = None, devices: list[str] | None = None) -> OperatorPlan:
    """Every spec on every usable ONNX-taking target, grouped by environment (one worker runs each group)."""
    known = {b["framework"] for inv in inventories for b in inv.backends}
    for fw in frameworks or []:
        if fw not in known:
            raise UnknownFrameworkError(f"unknown framework {fw!r}; known frameworks: {', '.join(sorted(known))}")
        if fw not in ONNX_RUNTIMES:
            raise ConfigurationError(f"framework {fw!r} cannot take a bare ONNX model, so it runs no operator cell; "
                                     f"use {' or '.join(ONNX_RUNTIMES)}")
    cells: list[OperatorCell] = []
    skipped: list[str] = []
    matched: set[str] = set()
    for inv in inventories:
        if inv.error:
            skipped.append(f"environment {inv.environment.name}: {inv.error}")
            continue
        available = {b["framework"] for b in inv.backends if b["available"]}
        for device in inv.devices:
            fw = device.framework
            if fw not in ONNX_RUNTIMES or fw not in available or not device.available:
                continue
            if frameworks and fw not in frameworks:
                continue
            if devices:
                hits = [sel for sel in devices if device.matches(sel)]
                if not hits:
                    continue
                matched.update(hits)
            elif device.config.get("virtual"):
                continue
            cells += [OperatorCell(inv.environment, fw, device, spec) for spec in specs]
    unmatched = [sel for sel in devices or [] if sel not in matched]
    if unmatched:
        raise DeviceUnavailableError(f"no usable device that takes an ONNX model matches "
                                     f"{', '.join(map(repr, unmatched))} (see `genai-harness devices`)")
    if not cells and not skipped:
        raise ConfigurationError("no runtime here takes an ONNX model (onnxruntime or OpenVINO); "
                                 "check --framework/--device or install one")
    return OperatorPlan(cells, skipped)
