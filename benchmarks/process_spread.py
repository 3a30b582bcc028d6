"""What makes fresh processes differ: one fresh process after another, each loading tiny-llm and timing a workload's
calls, with where its threads ran.

Each of ``--processes`` fresh interpreters builds tiny-llm's pipeline (or ``--model-dir``'s) on FRAMEWORK's CPU
device, runs ``text-p128-g32``'s warm-ups and repetitions through the harness's own measured call
(``tasks.registry.task_kind``), and reports its median TTFT and TPOT, the SD of its repetitions' log TTFT, and each
busy thread's last CPU (``/proc/self/task/*/stat``) and CPU time over the repetitions. ``--no-aslr`` starts each
under ``setarch -R`` (no address-space randomization). ``--variant NAME:KEY=VALUE,...`` (openvino.genai,
repeatable) loads with those OpenVINO properties, or ``scheduler.FIELD=VALUE`` fields of the harness's
``SchedulerConfig``; the variants' processes alternate (the order rotating), and each variant gets its own summary.
The summary separates the spread between processes from drift over the minutes (lag-1 autocorrelation; the SD of
successive differences over the square root of 2) and from the spread within a process (benchmarks/RESULTS.md,
"What a worker's start costs, trimmed": "What makes openvino calls differ").

Run: ``.venv/bin/python benchmarks/process_spread.py --framework openvino.genai --processes 30`` (and again with
``--no-aslr``); diagnostics: ``--variant default: --variant f32:INFERENCE_PRECISION_HINT=f32 --variant
one:INFERENCE_NUM_THREADS=1 --variant kv:scheduler.cache_size=1``.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import successive_spread, tiny_llm_on_cpu

PR_SET_THP_DISABLE = 41
"""prctl(2) option: no transparent huge pages for this process (a variant's ``process.thp=off``)."""


def huge_pages_kb() -> int:
    """This process's anonymous memory in transparent huge pages (kB, ``/proc/self/smaps_rollup``; 0 if unknown)."""
    try:
        lines = Path("/proc/self/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0
    return sum(int(line.split()[1]) for line in lines if line.startswith("AnonHugePages:"))


def thread_times() -> dict[str, tuple[int, int]]:
    """Each thread of this process: (the CPU it last ran on, its user + system ticks)."""
    taken = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        taken[tid] = (int(fields[36]), int(fields[11]) + int(fields[12]))
    return taken


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:KEY=VALUE,KEY=VALUE`` as (name, settings) (pure)."""
    name, _, rest = text.partition(":")
    settings = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, settings


def with_settings(device: Any, settings: dict[str, str]) -> Any:
    """``device`` loading with OpenVINO ``settings``: properties, and ``scheduler.FIELD`` fields set on the harness's
    own SchedulerConfig (``ov_genai_pipeline.fresh_prompt_scheduler``, which the pipeline uses when none is given)."""
    if not settings:
        return device
    from genai_harness.backends.ov_genai_pipeline import fresh_prompt_scheduler  # imports openvino-genai

    properties: dict[str, Any] = dict(device.config.get("properties", {}))
    scheduler = None
    for key, value in settings.items():
        parsed = int(value) if value.isdigit() else value
        if key.startswith("scheduler."):
            scheduler = scheduler or fresh_prompt_scheduler()
            setattr(scheduler, key.split(".", 1)[1], parsed)
        else:
            properties[key] = parsed
    if scheduler is not None:
        properties["scheduler_config"] = scheduler
    return dataclasses.replace(device, config={**device.config, "properties": properties})


def one_process(framework: str, settings: dict[str, str], model_dir: str | None = None) -> dict[str, object]:
    """This process's load and measured calls: medians, the spread within it, and its busy threads' CPUs."""
    from genai_harness.tasks.registry import task_kind
    from genai_harness.workloads.spec import load_workload
    from genai_harness.workloads.suites import STANDARD_DIR

    workload = load_workload(STANDARD_DIR / "text-p128-g32.toml")
    backend, device, folder = tiny_llm_on_cpu(framework)
    folder = Path(model_dir) if model_dir else folder
    device = with_settings(device, settings)
    pipeline = backend.create_pipeline(workload.task, folder, device)
    call = task_kind(workload.task).measured_call(workload.inputs, pipeline)
    for _ in range(workload.warmup):
        call.once()
    before = thread_times()
    records = [call.once() for _ in range(workload.repetitions)]
    after = thread_times()
    busy = sorted(((after[t][1] - before.get(t, (0, 0))[1], after[t][0], t == str(os.getpid())) for t in after),
                  reverse=True)
    ttft = [float(r["ttft_ms"]) for r in records]
    return {"ttft_ms": statistics.median(ttft), "tpot_ms": statistics.median(float(r["tpot_ms"]) for r in records),
            "within_sd": statistics.stdev(math.log(v) for v in ttft), "threads": len(after),
            "huge_kb": huge_pages_kb(),
            "busy": [{"ticks": ticks, "cpu": cpu, "main": main} for ticks, cpu, main in busy[:3] if ticks]}


def spread(values: list[float]) -> dict[str, float]:
    """Of log ``values`` in time order (pure): SD, lag-1 autocorrelation, SD of successive differences over sqrt 2."""
    logs = [math.log(v) for v in values]
    mean = statistics.fmean(logs)
    centred = [v - mean for v in logs]
    lag1 = sum(a * b for a, b in itertools.pairwise(centred)) / sum(v * v for v in centred)
    return {"sd": statistics.stdev(logs), "lag1": lag1, "successive": successive_spread(values)[0]}


def summary(label: str, taken: list[dict[str, Any]]) -> None:
    """Print the spread between, within and over the minutes of one variant's processes, and their placement."""
    ttft = [float(p["ttft_ms"]) for p in taken]
    between, tpot = spread(ttft), spread([float(p["tpot_ms"]) for p in taken])
    placements = sorted({tuple((b["cpu"], b["main"]) for b in p["busy"][:2]) for p in taken})
    within = statistics.median(float(p["within_sd"]) for p in taken)
    print(f"{label}, {len(taken)} processes: median TTFT {min(ttft):.2f}-{max(ttft):.2f} ms; log TTFT SD "
          f"{between['sd']:.3f}, lag-1 autocorrelation {between['lag1']:.2f}, successive {between['successive']:.3f}; "
          f"log TPOT SD {tpot['sd']:.3f}; within a process {within:.3f}; huge pages "
          f"{sorted({int(p.get('huge_kb', 0)) for p in taken})} kB")
    print(f"  busiest two threads (last CPU, main thread?): {placements}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="openvino.genai")
    parser.add_argument("--processes", type=int, default=30, help="processes a variant")
    parser.add_argument("--no-aslr", action="store_true", help="start each process under setarch -R")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                        help="OpenVINO properties or scheduler.FIELD settings to load with (repeatable; alternated)")
    parser.add_argument("--model-dir", help="a model folder in FRAMEWORK's format (default: tiny-llm's)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.processes < 3:
        parser.error("--processes must be at least 3 (the spread of successive differences needs two)")
    if args.child is not None:
        settings = parse_variant(args.child)[1]
        if settings.pop("process.thp", "on") == "off":  # before anything is mapped: no transparent huge pages
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)
        print(json.dumps(one_process(args.framework, settings, args.model_dir)))
        return
    prefix = ["setarch", platform.machine(), "-R"] if args.no_aslr else []
    variants = args.variant or ["default:"]
    taken: dict[str, list[dict[str, Any]]] = {parse_variant(v)[0]: [] for v in variants}
    for index in range(args.processes):
        turn = index % len(variants)
        for variant in variants[turn:] + variants[:turn]:  # the order rotates: no variant always goes first
            model = ["--model-dir", args.model_dir] if args.model_dir else []
            out = subprocess.run([*prefix, sys.executable, __file__, "--child", variant, "--framework", args.framework,
                                  *model], capture_output=True, text=True, check=True).stdout
            taken[parse_variant(variant)[0]].append(json.loads(out.strip().splitlines()[-1]))
    aslr = " without ASLR" if args.no_aslr else ""
    for name, processes in taken.items():
        summary(f"{args.framework}{aslr}, {name}", processes)


if __name__ == "__main__":
    main()
