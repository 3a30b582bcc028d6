"""What one ``ab`` round costs, and where it goes: process start and imports, model load, the measured calls.

Measure (real): CALLS worker calls of one cell exactly as ``ab`` runs them (``runner.cell_loop.call_cell_worker``:
a fresh worker process per call), tiny-llm ``text-p128-g32`` (2 warm-ups, 10 repetitions) on each FRAMEWORK. Per
call: the parent's wall time from process start to reaped (``WorkerOutcome.wall_s``), the cell's ``load_s``, the
measured calls (sum of the repetitions' ``e2e_ms`` and the warm-ups, taken as 2 more median calls); the rest is
process start, imports and the worker's own bookkeeping. A round of a cell pair is two calls.

Run: ``nice -n 5 .venv/bin/python benchmarks/ab_round_cost.py --calls 10`` (prints the load average it ran at).
"""

from __future__ import annotations

import argparse
import os
import statistics

from genai_harness.runner.cell_loop import call_cell_worker
from genai_harness.runner.prepare import Selection, prepare_run

FRAMEWORKS = ("onnxruntime_genai", "openvino.genai")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--workload", default="text-p128-g32")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    print("| framework | calls | wall per call (s) | start + imports (s) | load (s) | measured calls (s) | "
          "share not measuring |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for framework in FRAMEWORKS:
        prepared = prepare_run("smoke", Selection([framework], ["CPU"], ["tiny-llm"]),
                               store="/tmp/ab-round-cost.sqlite")
        cells = [c for c in prepared.plan.cells if c.workload.id == args.workload]
        if not cells:
            print(f"| {framework} | no cell of {args.workload} here |")
            continue
        walls, loads, calls = [], [], []
        for _ in range(args.calls):
            outcome = call_cell_worker(cells[0])
            e2e = [rep["e2e_ms"] / 1000 for rep in outcome.reply.repetitions]
            measured = sum(e2e) + cells[0].workload.warmup * statistics.median(e2e)
            walls.append(outcome.wall_s)
            loads.append(outcome.reply.load_s)
            calls.append(measured)
        wall, load, measured = (statistics.median(v) for v in (walls, loads, calls))
        print(f"| {framework} | {args.calls} | {wall:.2f} | {wall - load - measured:.2f} | {load:.3f} | "
              f"{measured:.3f} | {(wall - measured) / wall:.0%} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
