"""A pool of real A/A ``ab`` rounds from three designs interleaved in time: what paired starts save, at what noise.

Each block runs ROUNDS per-call ABBA rounds of tiny-llm ``text-p128-g32`` on onnxruntime-genai in each arm
(``ab_start_arm.py``: ``today``, the harness before paired starts, from the checkout OLD_SRC; ``sequential``, this
harness with each call's worker started on its own and no machine-speed kernel; ``paired``, this harness's ``ab``),
the arms' order rotating by block, so all three see the same minutes of the machine. Each arm writes its rows to
``STORE_PREFIX.ARM.sqlite`` and its blocks' wall times to that store's ``.jsonl`` in the shape
``ab_sessions_judge.py`` reads (design ``per_call``), which then replays self-sized ``ab`` jobs on each.

Run: ``nice -n 5 .venv/bin/python benchmarks/ab_start_pool.py --prefix /tmp/pool --old-src /tmp/old/src --new-src
/tmp/new/src --blocks 30`` (``git worktree add --detach /tmp/old REV`` and ``/tmp/new HEAD`` first; ``make bytecode``'s
``compileall`` on the new one, as ``make setup`` does), then ``.venv/bin/python benchmarks/ab_sessions_judge.py --store
/tmp/pool.ARM.sqlite --per-worker 1`` for each ARM.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ARMS = ("today", "sequential", "paired")
HERE = Path(__file__).resolve().parent


def start_arm(arm: str, store: str, old_src: str, new_src: str) -> subprocess.Popen:
    """The arm's server, prepared and ready for blocks."""
    env = dict(os.environ)
    src = old_src if arm == "today" else new_src
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen([sys.executable, str(HERE / "ab_start_arm.py"), "--store", store, "--design", arm],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    ready = json.loads(proc.stdout.readline())
    print(f"{arm}: ready, harness {ready['harness']}", flush=True)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--old-src", required=True)
    parser.add_argument("--new-src", default=str(HERE.parent / "src"),
                        help="the harness of the other arms (a snapshot, so editing this checkout cannot change a "
                             "pool in progress)")
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    stores = {arm: f"{args.prefix}.{arm}.sqlite" for arm in ARMS}
    servers = {arm: start_arm(arm, stores[arm], args.old_src, args.new_src) for arm in ARMS}
    for block in range(args.blocks):
        order = ARMS[block % 3:] + ARMS[:block % 3]
        for arm in order:
            load = os.getloadavg()[0]
            servers[arm].stdin.write(f"{block * args.rounds} {args.rounds}\n")
            servers[arm].stdin.flush()
            answer = json.loads(servers[arm].stdout.readline())
            entry = {"block": block, "framework": "onnxruntime_genai", "design": "per_call", "arm": arm,
                     "rounds": args.rounds, "measured": args.rounds, "wall_s": answer["wall_s"], "load1": load,
                     "failed_rows": answer["failed_rows"], "at": time.time()}
            with open(stores[arm] + ".jsonl", "a") as fh:
                fh.write(json.dumps(entry) + "\n")
            print(json.dumps(entry), flush=True)
    for server in servers.values():
        server.stdin.close()
        server.wait()


if __name__ == "__main__":
    main()
