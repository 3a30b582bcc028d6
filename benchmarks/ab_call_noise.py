"""What one fresh ``ab`` call costs and how much it varies, with and without the machine-speed kernel and a pause
between calls (issue 23, point 5).

Measure (real): CALLS rounds of four arms, the arms' order rotating by round, each call a fresh worker of tiny-llm
``text-p128-g32`` on FRAMEWORK exactly as ``ab`` runs one (``runner.cell_loop.call_cell_worker``): kernel off or on
(``Cell.machine_speed``), started at once or after a 20 ms pause (what the parent's old 20 ms polling left between
calls on average and more). Per arm: the median wall time of a call, and per metric the SD of the log difference
between consecutive calls of the arm divided by the square root of 2 (one call's spread), plainly and robustly
(1.4826 x the median absolute deviation). One JSON line per call goes to OUT.

Run: ``nice -n 5 .venv/bin/python benchmarks/ab_call_noise.py --calls 150 --out /tmp/calls.jsonl``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time

from _common import successive_spread

from genai_harness.runner.cell_loop import call_cell_worker
from genai_harness.runner.prepare import Selection, prepare_run

ARMS = {"kernel off": (False, 0.0), "kernel on": (True, 0.0), "kernel off, pause": (False, 0.02),
        "kernel on, pause": (True, 0.02)}
METRICS = ("load_s", "ttft_ms", "tpot_ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--out", required=True)
    parser.add_argument("--framework", default="onnxruntime_genai")
    args = parser.parse_args()
    prepared = prepare_run("smoke", Selection([args.framework], ["CPU"], ["tiny-llm"]),
                           store="/tmp/ab-call-noise.sqlite")
    cell = next(c for c in prepared.plan.cells if c.workload.id == "text-p128-g32")
    names = list(ARMS)
    taken: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    loads = [os.getloadavg()[0]]
    with open(args.out, "a") as out:
        for index in range(args.calls):
            for name in names[index % len(names):] + names[:index % len(names)]:
                kernel, pause = ARMS[name]
                time.sleep(pause)
                outcome = call_cell_worker(dataclasses.replace(cell, machine_speed=kernel))
                reps = outcome.reply.repetitions
                entry = {"arm": name, "wall_s": outcome.wall_s, "load_s": outcome.reply.load_s,
                         **{m: statistics.median(r[m] for r in reps) for m in METRICS if m != "load_s"}}
                taken[name].append(entry)
                out.write(json.dumps(entry) + "\n")
            loads.append(os.getloadavg()[0])
    print(f"load average {min(loads):.1f}-{max(loads):.1f}; {args.calls} calls an arm")
    print("| arm | wall a call (s) | " + " | ".join(f"{m} SD (robust)" for m in METRICS) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in METRICS) + " |")
    for name, entries in taken.items():
        spreads = (successive_spread([e[m] for e in entries]) for m in METRICS)
        cells = [f"{sd:.3f} ({robust:.3f})" for sd, robust in spreads]
        print(f"| {name} | {statistics.median(e['wall_s'] for e in entries):.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
