"""A reload is not a load: the first model load of a process against reloads of the same model in it.

Each of ``--processes`` fresh interpreters imports the runtime, then builds tiny-llm's pipeline ``--loads`` times
(``backend.create_pipeline``, freed and collected between), timing each. ``load_s`` in the harness is the first of
these; this shows how much of it is one-time set-up that a session which reloads its model every round would not
measure again (benchmarks/RESULTS.md, "What sizes an onnxruntime-genai `ab` job").

Run: ``.venv/bin/python benchmarks/first_load_share.py --framework onnxruntime_genai``
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time

from _common import tiny_llm_on_cpu


def one_process(framework: str, loads: int) -> list[float]:
    """The load times (s) of ``loads`` builds of the pipeline in this process, the first one first."""
    backend, device, folder = tiny_llm_on_cpu(framework)
    times = []
    for _ in range(loads):
        start = time.perf_counter()
        pipeline = backend.create_pipeline("text2text", folder, device)
        times.append(time.perf_counter() - start)
        del pipeline
        gc.collect()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="onnxruntime_genai")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_process(args.framework, args.loads)))
        return
    firsts, reloads = [], []
    for _ in range(args.processes):
        out = subprocess.run([sys.executable, __file__, "--child", "--framework", args.framework, "--loads",
                              str(args.loads)], capture_output=True, text=True, check=True).stdout
        times = json.loads(out.strip().splitlines()[-1])
        firsts.append(times[0])
        reloads.extend(times[1:])
    ms = [1000 * t for t in firsts]
    print(f"{args.framework}: first load {min(ms):.1f}-{max(ms):.1f} ms (median {statistics.median(ms):.1f}); "
          f"reloads {1000 * min(reloads):.1f}-{1000 * max(reloads):.1f} ms (median "
          f"{1000 * statistics.median(reloads):.1f}); {args.processes} processes x {args.loads} loads")


if __name__ == "__main__":
    main()
