"""Cold start against warm start, side by side: compile (no cache), an empty-cache load and a warm-cache load.

Every load is the harness's ``load`` worker op (worker/load.py) in a fresh process of the target's environment, as
an app's start is; the cache is the one the harness points the runtime at (OpenVINO's CACHE_DIR, the OpenVINO EP's
``cache_dir``). Per round, one load of each kind in alternating order: the empty-cache load gets a new empty
folder, the warm load reads a folder filled once before the rounds. Printed per target: the medians, the ratio of
the empty-cache load to the warm one with its bootstrap 95 % CI, the cache's size, whether every warm load read the
cache (OpenVINO's LOADED_FROM_CACHE where the pipeline exposes it, else an unchanged folder), and the load average
before and after. A warm load that did not read the cache is told, not hidden: its ratio is no cache's gain.

    nice -n 5 .venv/bin/python benchmarks/cold_start.py [--rounds 5] [--only resnet50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnx

from genai_harness.analysis.statistics import median, ratio_ci, ratio_of_medians
from genai_harness.backends import compile_cache as cc
from genai_harness.interface.devices import Device
from genai_harness.runner.environments import Environment, default_environment
from genai_harness.runner.launcher import call_worker
from genai_harness.runner.model_build import cache_root as model_cache_root
from genai_harness.worker.protocol import LoadReply, LoadRequest
from genai_harness.workloads.catalog import MODELS_DIR

REPO = Path(__file__).resolve().parents[1]
LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"
BUILT = model_cache_root()
OV_CPU = Device("CPU", {"device": "CPU", "properties": {}}, framework="openvino.genai")
OVEP_CPU = Device("CPU", {"execution_provider": "OpenVINOExecutionProvider", "provider_options": {"device_type": "CPU"},
                          "label_suffix": "OpenVINO"}, framework="onnxruntime", environment="ort-openvino")


@dataclass(frozen=True)
class Target:
    name: str
    framework: str
    task: str
    model: Path
    device: Device
    environment: Environment


def targets() -> list[Target]:
    default = default_environment()
    found = [Target("openvino.genai CPU", "openvino.genai", "classification", LIGHT / "light_resnet50.onnx", OV_CPU,
                    default),
             Target("openvino.genai CPU", "openvino.genai", "text2image", MODELS_DIR / "tiny-sd/openvino", OV_CPU,
                    default),
             Target("openvino.genai CPU", "openvino.genai", "text2text", MODELS_DIR / "tiny-llm/openvino", OV_CPU,
                    default)]
    smollm = BUILT / "smollm2-135m/int4/openvino"
    if smollm.is_dir():
        found.append(Target("openvino.genai CPU", "openvino.genai", "text2text", smollm, OV_CPU, default))
    ovep = REPO / ".venvs/ort-openvino/bin/python"
    if ovep.exists():
        found.append(Target("onnxruntime CPU:OpenVINO", "onnxruntime", "classification",
                            LIGHT / "light_resnet50.onnx", OVEP_CPU, Environment("ort-openvino", ovep, "benchmark")))
    return found


def load(target: Target, folder: Path | None) -> LoadReply:
    device = target.device if folder is None else replace(
        target.device, config={**target.device.config, cc.CACHE_DIR_KEY: str(folder)})
    request = LoadRequest(target.framework, target.task, device, str(target.model), target.environment.name)
    return call_worker(target.environment, request, 600.0, what=f"load of {target.model.name}").reply


def measure(target: Target, rounds: int, scratch: Path) -> dict[str, Any]:
    warm_folder = scratch / "warm"
    load(target, warm_folder)  # fills the warm cache once
    filled = cc.snapshot(warm_folder)
    times: dict[str, list[float]] = {"compile": [], "cold": [], "warm": []}
    hits: list[bool] = []
    sizes: list[float] = []

    def cold() -> float:
        folder = Path(tempfile.mkdtemp(dir=scratch, prefix="cold-"))
        seconds = load(target, folder).load_s
        sizes.append(cc.size_mib(cc.snapshot(folder)))
        shutil.rmtree(folder)
        return seconds

    def warm() -> float:
        before = cc.snapshot(warm_folder)
        reply = load(target, warm_folder)
        said = reply.loaded_from_cache
        hits.append(bool(said) if said is not None else cc.read_from_cache(before, cc.snapshot(warm_folder)))
        return reply.load_s

    kinds: dict[str, Callable[[], float]] = {"compile": lambda: load(target, None).load_s, "cold": cold, "warm": warm}
    for r in range(rounds):
        for kind in (list(kinds) if r % 2 == 0 else list(kinds)[::-1]):
            times[kind].append(kinds[kind]())
    low, high = ratio_ci(times["warm"], times["cold"])
    return {"compile": median(times["compile"]), "cold": median(times["cold"]), "warm": median(times["warm"]),
            "ratio": ratio_of_medians(times["warm"], times["cold"]), "ci": (low, high),
            "mib": median(sizes) if sizes else cc.size_mib(filled), "hits": f"{sum(hits)} of {len(hits)}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=None, help="only targets whose model path contains this text")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| target | task | model | compile s | load, empty cache s | load, warm cache s | empty / warm [95 % CI] "
          "| cache MiB | warm loads that read the cache |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for target in targets():
        if args.only and args.only not in str(target.model):
            continue
        with tempfile.TemporaryDirectory(prefix="genai-harness-cold-") as scratch:
            m = measure(target, args.rounds, Path(scratch))
        model = target.model.relative_to(BUILT) if target.model.is_relative_to(BUILT) else target.model.name
        if target.model.name == "openvino":
            model = target.model.parent.name if not target.model.is_relative_to(BUILT) else model
        print(f"| {target.name} | {target.task} | {model} | {m['compile']:.3f} | {m['cold']:.3f} | {m['warm']:.3f} "
              f"| {m['ratio']:.2f} [{m['ci'][0]:.2f}, {m['ci'][1]:.2f}] | {m['mib']:.1f} | {m['hits']} |", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
