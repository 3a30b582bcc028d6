"""A pool of real A/A ``ab`` rounds in both designs, interleaved in time: long-lived workers and a fresh worker
per call (issue 23, point 5: ``ab`` cheaper).

Each block runs, for each FRAMEWORK, one *session* (one worker per side, each loading tiny-llm once, then K
ABBA rounds of ``text-p128-g32`` with its 2 warm-ups and 10 repetitions: ``ab --rounds-per-worker K``) and K
rounds of today's design (every call its own worker: ``ab --rounds-per-worker 1``), in alternating order, so
both designs see the same minutes of the machine. Sides are ``env:default`` and ``env:twin`` (the same
interpreter): an A/A pool. Rows go to STORE through the same code ``ab`` runs (``runner.round_loop``,
``runner.cell_loop.run_plan``), one run id per design and side; each block's wall time goes to STORE.jsonl
(what a design costs the machine: process starts, imports, loads and the measured calls). The load average is
logged beside each block. ``benchmarks/ab_sessions_judge.py`` replays self-sized jobs on the pool.

Run: ``nice -n 5 .venv/bin/python benchmarks/ab_sessions_pool.py --store POOL.sqlite --blocks 30 --per-worker 10``
(stop it any time: every finished block is kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from genai_harness.gate.ab import Side, ab_cell, interleave, pair_cells
from genai_harness.runner.cell_loop import new_run_context, run_plan
from genai_harness.runner.plan import Plan
from genai_harness.runner.prepare import prepare_run
from genai_harness.runner.progress import Progress
from genai_harness.runner.round_loop import SessionRunner

FRAMEWORKS = ("onnxruntime_genai", "openvino.genai")
SUITE = 'id = "ab-pool"\n[[entries]]\nworkload = "text-p128-g32"\nmodels = ["tiny-llm"]\n'


def pool_arguments(description: str, blocks: int) -> argparse.Namespace:
    """The options of a sessions pool: ``--store``, ``--blocks``, ``--per-worker``, ``--framework``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store", required=True)
    parser.add_argument("--blocks", type=int, default=blocks)
    parser.add_argument("--per-worker", type=int, default=10)
    parser.add_argument("--framework", action="append", default=None)
    return parser.parse_args()


def main() -> None:
    args = pool_arguments(__doc__.splitlines()[0], blocks=30)
    suite = Path(args.store).with_suffix(".suite.toml")
    suite.write_text(SUITE)
    sides = [Side.parse("env:default"), Side.parse("env:twin")]
    prepared = prepare_run(str(suite), [s.selection(args.framework or list(FRAMEWORKS), ["CPU"], None) for s in sides],
                           pythons=[f"twin={sys.executable}"], store=args.store, out=sys.stderr)
    # each cell as ab runs it (no machine-speed kernel, no cold-start loads): without this, before 2026-12-07 a
    # per-call round of a compiling target took its compile and other-cache loads every call, which ab does not
    pairs = [(ab_cell(a, None), ab_cell(b, None))
             for a, b in pair_cells(prepared.plans[0].cells, prepared.plans[1].cells, "env")]
    store = prepared.store
    designs = {name: [new_run_context(prepared.profile, prepared.env_versions) for _ in range(2)]
               for name in ("sessions", "per_call")}
    log = Path(args.store + ".jsonl")
    quiet = Progress(0, sys.stderr, False)
    runner = SessionRunner(store, designs["sessions"], quiet, [])
    k = args.per_worker
    print(f"pool {args.store}: {len(pairs)} pairs, blocks of {k} rounds a design, runs "
          f"{ {n: [c.run_id for c in cs] for n, cs in designs.items()} }", flush=True)
    for block in range(args.blocks):
        for pair in pairs:
            order = ("sessions", "per_call") if block % 2 == 0 else ("per_call", "sessions")
            for design in order:
                load = os.getloadavg()[0]
                start, started_before = time.perf_counter(), runner.worker_seconds
                if design == "sessions":
                    measured = runner.run(pair, block * k, k)
                else:
                    written: list[dict] = []
                    for side, cell in interleave([pair], k, block * k):
                        run_plan(Plan([cell], []), store, designs["per_call"][side], quiet, written)
                    measured = k
                wall = time.perf_counter() - start
                entry = {"block": block, "framework": pair[0].framework, "design": design, "rounds": k,
                         "measured": measured, "wall_s": wall, "load1": load, "at": time.time(),
                         "worker_start_s": runner.worker_seconds - started_before if design == "sessions" else None}
                with open(log, "a") as fh:
                    fh.write(json.dumps(entry) + "\n")
                print(json.dumps(entry), flush=True)


if __name__ == "__main__":
    main()
