"""One arm of ``ab_call_pool.py``: a long-lived process that runs blocks of ``ab``'s per-call rounds on command.

It prepares once (``runner.prepare.prepare_run``: ``env:default`` against ``env:twin``, the same interpreter, an A/A
pair of tiny-llm ``text-p128-g32`` cells on FRAMEWORK), then reads one line a block from standard input (``FIRST
ROUNDS``), runs those ABBA rounds as ``ab --rounds-per-worker 1`` runs them (``run_plan`` of one cell a call, each
call a fresh worker; the cells as ``gate.ab.ab_cell`` prepares them, REPETITIONS a call where given, THREADS
compute threads where given, or for an older harness as its ``run_ab`` did: no machine-speed kernel where the
harness on ``PYTHONPATH`` knows that field)
and prints one JSON line with the block's wall time. With ``--per-worker K`` above 1 it runs the block's rounds as
``ab --rounds-per-worker K`` does instead (sessions of K rounds, one worker per side each: ``runner.round_loop``),
and the line also lists each session's wall time and its workers' start and load. Rows go to STORE through the
harness's own code, one run id per side.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from genai_harness.gate.ab import Side, interleave, pair_cells
from genai_harness.runner import cell_loop
from genai_harness.runner.plan import Plan
from genai_harness.runner.prepare import prepare_run
from genai_harness.runner.progress import Progress

SUITE = 'id = "ab-call"\n[[entries]]\nworkload = "text-p128-g32"\nmodels = ["tiny-llm"]\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--framework", default="onnxruntime_genai")
    parser.add_argument("--repetitions", type=int, default=None, help="ab --repetitions (default: ab's own)")
    parser.add_argument("--threads", type=int, default=None,
                        help="compute threads of both sides' cells, as a workload's [run] threads sets them "
                             "(default: the workload's, else the runtime's)")
    parser.add_argument("--per-worker", type=int, default=1,
                        help="ab --rounds-per-worker: rounds a worker pair serves (a harness with sessions)")
    args = parser.parse_args()
    suite = Path(args.store).with_suffix(".suite.toml")
    suite.write_text(SUITE)
    sides = [Side.parse("env:default"), Side.parse("env:twin")]
    prepared = prepare_run(str(suite), [s.selection([args.framework], ["CPU"], None) for s in sides],
                           pythons=[f"twin={sys.executable}"], store=args.store, out=sys.stderr)
    pair = pair_cells(prepared.plans[0].cells, prepared.plans[1].cells, "env")[0]
    try:  # the harness's own preparation of an ab cell, where it has one
        from genai_harness.gate.ab import ab_cell
    except ImportError:  # an older harness: as its run_ab prepared cells
        if args.repetitions is not None:
            raise SystemExit("--repetitions needs a harness with gate.ab.ab_cell") from None
        if "machine_speed" in {f.name for f in dataclasses.fields(pair[0])}:
            pair = tuple(dataclasses.replace(cell, machine_speed=False) for cell in pair)
    else:
        kept = {} if args.repetitions is None else {"repetitions": args.repetitions}
        pair = tuple(ab_cell(cell, None, **kept) for cell in pair)
    if args.threads is not None:
        pair = tuple(dataclasses.replace(cell, threads=args.threads) for cell in pair)
    contexts = [cell_loop.new_run_context(prepared.profile, prepared.env_versions) for _ in range(2)]
    quiet = Progress(0, sys.stderr, False)
    written: list[dict] = []
    sessions = None
    if args.per_worker > 1:  # only a harness with sessions has this module
        from genai_harness.runner.round_loop import SessionRunner
        sessions = SessionRunner(prepared.store, contexts, quiet, written)
    print(json.dumps({"ready": True, "harness": cell_loop.__file__}), flush=True)
    for line in sys.stdin:
        first, rounds = (int(x) for x in line.split())
        start = time.perf_counter()
        served = []
        if sessions is None:
            for side, cell in interleave([pair], rounds, first):
                cell_loop.run_plan(Plan([cell], []), prepared.store, contexts[side], quiet, written)
        else:
            for session_first in range(first, first + rounds, args.per_worker):
                began, started_before = time.perf_counter(), sessions.worker_seconds
                measured = sessions.run(pair, session_first, args.per_worker)
                served.append({"wall_s": time.perf_counter() - began, "measured": measured,
                               "worker_start_s": sessions.worker_seconds - started_before})
        wall = time.perf_counter() - start
        failed = sum(1 for row in written if row.get("status") != "ok")
        print(json.dumps({"wall_s": wall, "failed_rows": failed, "load1": os.getloadavg()[0], "sessions": served}),
              flush=True)


if __name__ == "__main__":
    main()
