"""A pool of real A/A ``ab`` rounds from two checkouts of the harness interleaved in time: what a round costs and
how noisy it is, before and after a change (issue 23, point 5).

Each block runs ROUNDS per-call ABBA rounds of tiny-llm ``text-p128-g32`` in each arm (``ab_call_arm.py``:
``before``, the harness at OLD_SRC; ``now``, the harness at NEW_SRC), the arms' order alternating by block, so both
see the same minutes of the machine. Each arm writes its rows to ``PREFIX.ARM.sqlite`` and its blocks' wall times to
that store's ``.jsonl`` in the shape ``ab_sessions_judge.py`` reads (design ``per_call``), which then replays
self-sized ``ab`` jobs on each arm: false alarms, catches, rounds and machine seconds a job.

``--arm NAME=SRC[,REPETITIONS[,THREADS[,PER_WORKER]]]`` (repeatable) names the arms instead: the harness at SRC, each
call measuring REPETITIONS (``ab --repetitions``; empty or absent: ab's own) with THREADS compute threads (as a
workload's ``[run] threads``; absent: the workload's), its rounds served PER_WORKER a worker pair (``ab
--rounds-per-worker``; absent: 1, a fresh worker a call; above 1 the arm's log holds one ``sessions`` entry a
session, which the judge reads with ``--per-worker PER_WORKER``), e.g. three arms ``--arm filed=/tmp/old/src --arm
r10=/tmp/new/src,10 --arm r3=/tmp/new/src,3``, or ``--arm one=/tmp/new/src,,1``, or ``--arm k2=/tmp/new/src,,,2``.

Run (checkouts first: ``git worktree add --detach /tmp/old REV``, ``git worktree add --detach /tmp/new HEAD`` and
``.venv/bin/python -m compileall -q /tmp/new/src``, as ``make setup`` compiles ``src``; the snapshots keep edits to
this checkout out of a pool in progress): ``nice -n 5 .venv/bin/python benchmarks/ab_call_pool.py --prefix P
--old-src /tmp/old/src --new-src /tmp/new/src --blocks 30``, then for each ARM ``.venv/bin/python
benchmarks/ab_sessions_judge.py --store P.ARM.sqlite --no-5``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def start_arm(store: str, src: str, framework: str, repetitions: str | None = None,
              threads: str | None = None, per_worker: str | None = None) -> subprocess.Popen:
    """An arm's server on the harness at ``src``, prepared and ready for blocks."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, str(HERE / "ab_call_arm.py"), "--store", store, "--framework", framework]
    command += ["--repetitions", repetitions] if repetitions else []
    command += ["--threads", threads] if threads else []
    command += ["--per-worker", per_worker] if per_worker else []
    proc = subprocess.Popen(command,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    ready = json.loads(proc.stdout.readline())
    print(f"{store}: ready, harness {ready['harness']}", flush=True)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--old-src", default=None)
    parser.add_argument("--new-src", default=str(HERE.parent / "src"))
    parser.add_argument("--arm", action="append", default=[], metavar="NAME=SRC[,REPETITIONS[,THREADS[,PER_WORKER]]]",
                        help="an arm (repeatable; instead of --old-src and --new-src)")
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--framework", default="onnxruntime_genai")
    args = parser.parse_args()
    if args.arm:
        specs = {name: tuple(rest.split(",", 3)) for name, _, rest in (a.partition("=") for a in args.arm)}
    elif args.old_src:
        specs = {"before": (args.old_src,), "now": (args.new_src,)}
    else:
        parser.error("name the arms: --old-src (and --new-src), or --arm")
    arms = tuple(specs)
    stores = {arm: f"{args.prefix}.{arm}.sqlite" for arm in arms}
    servers = {arm: start_arm(stores[arm], *specs[arm][:1], args.framework, *specs[arm][1:]) for arm in arms}
    for block in range(args.blocks):
        shift = block % len(arms)  # every arm takes every place in the order in turn
        for arm in arms[shift:] + arms[:shift]:
            load = os.getloadavg()[0]
            servers[arm].stdin.write(f"{block * args.rounds} {args.rounds}\n")
            servers[arm].stdin.flush()
            answer = json.loads(servers[arm].stdout.readline())
            base = {"block": block, "framework": args.framework, "arm": arm, "load1": load,
                    "failed_rows": answer["failed_rows"], "at": time.time()}
            sessions = answer.get("sessions") or []  # an arm of sessions: one entry a session, as the judge reads
            entries = [{**base, "design": "sessions", "rounds": args.rounds // len(sessions), **session}
                       for session in sessions]
            entries = entries or [{**base, "design": "per_call", "rounds": args.rounds, "measured": args.rounds,
                                   "wall_s": answer["wall_s"]}]
            with open(stores[arm] + ".jsonl", "a") as fh:
                fh.writelines(json.dumps(entry) + "\n" for entry in entries)
            print(json.dumps({**base, "wall_s": answer["wall_s"], "sessions": len(entries)}), flush=True)
    for server in servers.values():
        server.stdin.close()
        server.wait()


if __name__ == "__main__":
    main()
