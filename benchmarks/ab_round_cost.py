"""What one ``ab`` round costs, and where it goes: process start and imports, model load, the measured calls.

Measure (real): CALLS worker calls of one cell exactly as ``ab`` runs them (``gate.ab.ab_cell``: no cold-start
loads, no machine-speed kernel, ab's repetitions; ``runner.cell_loop.call_cell_worker``: a fresh worker process per
call), tiny-llm ``text-p128-g32`` (2 warm-ups, 10 repetitions) on each FRAMEWORK. Per
call: the parent's wall time from process start to reaped (``WorkerOutcome.wall_s``), the cell's ``load_s``, the
measured calls (sum of the repetitions' ``e2e_ms`` and the warm-ups, taken as 2 more median calls); the rest is
process start, imports and the worker's own bookkeeping; and the CPU seconds the worker used (its rusage: what
a call costs a machine whatever the load). A round of a cell pair is two calls. ``--measure instructions`` costs
the same calls under callgrind (``ab --measure instructions`` runs one round a pair).

Then the same cell's rounds in one long-lived worker (``ab --rounds-per-worker``: ``runner.round_worker``): the
worker's start, imports and load once (``ready``), then CALLS rounds of the same warm-ups and repetitions, each
round's wall time as the parent sees it (command sent to journal line read).

Run: ``nice -n 5 .venv/bin/python benchmarks/ab_round_cost.py --calls 10`` (prints the load average it ran at).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics

from genai_harness.gate.ab import ab_cell
from genai_harness.runner.cell_loop import call_cell_worker
from genai_harness.runner.prepare import Selection, prepare_run
from genai_harness.runner.round_worker import RoundWorker

FRAMEWORKS = ("onnxruntime_genai", "openvino.genai")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--workload", default="text-p128-g32")
    parser.add_argument("--measure", default="time", choices=("time", "instructions"))
    parser.add_argument("--framework", action="append", default=None)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    print(f"measure: {args.measure}")
    print("| framework | calls | wall per call (s) | start + imports (s) | load (s) | measured calls (s) | "
          "share not measuring | CPU per call (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    served = {}
    for framework in args.framework or FRAMEWORKS:
        prepared = prepare_run("smoke", Selection([framework], ["CPU"], ["tiny-llm"]),
                               store="/tmp/ab-round-cost.sqlite")
        cells = [c for c in prepared.plan.cells if c.workload.id == args.workload]
        if not cells:
            print(f"| {framework} | no cell of {args.workload} here |")
            continue
        cell = ab_cell(cells[0], None, measure=args.measure)  # as ab runs it: no cold-start loads, no kernel
        walls, loads, calls, cpus = [], [], [], []
        for _ in range(args.calls):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            outcome = call_cell_worker(cell)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            e2e = [rep["e2e_ms"] / 1000 for rep in outcome.reply.repetitions]
            measured = sum(e2e) + cell.workload.warmup * statistics.median(e2e)
            walls.append(outcome.wall_s)
            loads.append(outcome.reply.load_s)
            calls.append(measured)
        wall, load, measured = (statistics.median(v) for v in (walls, loads, calls))
        served[framework] = (cell, wall)
        print(f"| {framework} | {args.calls} | {wall:.2f} | {wall - load - measured:.2f} | {load:.3f} | "
              f"{measured:.3f} | {(wall - measured) / wall:.0%} | {statistics.median(cpus):.2f} |")
    if args.measure == "time":
        print("\nlong-lived worker (ab --rounds-per-worker):\n")
        print("| framework | rounds | ready: start + imports + load (s) | wall per round (s) | measured calls (s) | "
              "share not measuring | a session of 10 rounds against 10 fresh calls |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for framework, (cell, per_call_wall) in served.items():
            with RoundWorker(cell) as worker:
                worker.wait_ready()
                outcomes = [worker.measure(r) for r in range(args.calls)]
            walls = [o.wall_s for o in outcomes]
            measured = statistics.median([sum(rep["e2e_ms"] / 1000 for rep in o.reply.repetitions)
                                          + cell.workload.warmup * statistics.median(rep["e2e_ms"] / 1000 for rep
                                                                                     in o.reply.repetitions)
                                          for o in outcomes])
            wall = statistics.median(walls)
            print(f"| {framework} | {args.calls} | {worker.ready_s:.2f} | {wall:.3f} | {measured:.3f} | "
                  f"{(wall - measured) / wall:.0%} | {(worker.ready_s + 10 * wall) / (10 * per_call_wall):.2f} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
