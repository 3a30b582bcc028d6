"""Whether model loads got a core of their own: load time and the loading thread's CPU time, in fresh processes.

Two views of the same question (benchmarks/RESULTS.md, "A rank test for ab, ab without cold-start loads, and what
makes load time bimodal"):
- ``--store P.ARM.sqlite`` (repeatable): the ``load_s`` of every call an ``ab_call_pool.py`` arm stored (repetition 0),
  and its ``load_cpu_s`` (the loading thread's CPU time over the load) where the harness recorded one, as histograms
  in ms;
- ``--bare N``: N fresh ``python`` processes that each import onnxruntime-genai and construct ``og.Model`` on
  tiny-llm, timed by the wall clock and by ``time.thread_time`` of the loading thread, ``--busy-s`` seconds of busy
  work before the load. A load whose CPU time equals its wall time had a core to itself; one at half had half.

Run it beside the noise a pool ran under (e.g. ``/tmp/noisy.sh``) to see the modes, and quiet to see one.
Run: ``.venv/bin/python benchmarks/load_modes.py --bare 30 --busy-s 0 --busy-s 0.1 --store P.now.sqlite``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

MODEL = Path(__file__).resolve().parent.parent / "src/genai_harness/workloads/models/tiny-llm/onnxruntime_genai"
BINS_MS = (0, 25, 35, 45, 55, 70, 100, 10_000)
ONE_LOAD = """
import sys, time
import onnxruntime_genai as og
end = time.perf_counter() + float(sys.argv[2])
while time.perf_counter() < end:
    pass
wall, cpu = time.perf_counter(), time.thread_time()
og.Model(sys.argv[1])
print((time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000)
"""


def histogram(values_ms: np.ndarray) -> str:
    """Counts per bin of :data:`BINS_MS`, as text."""
    counts, _ = np.histogram(values_ms, bins=BINS_MS)
    return ", ".join(f"{lo}-{hi} ms: {n}" for lo, hi, n in zip(BINS_MS, BINS_MS[1:], counts, strict=False) if n)


def stored_loads(store: str, column: str = "load_s") -> np.ndarray:
    """The first-repetition ``column`` (ms: ``load_s``, or ``load_cpu_s`` where the harness recorded it) of every call
    in an ``ab_call_pool.py`` arm's store; empty where the store has none."""
    from genai_harness.results.query import ResultFilter
    from genai_harness.results.store import ResultStore

    frame = ResultStore(store, create=False).read(ResultFilter(statuses="ok"))
    if column not in frame.columns:
        return np.asarray([], dtype=float)
    values = frame.loc[frame["repetition"] == 0, column].dropna()
    return values.to_numpy(dtype=float) * 1000.0


def bare_loads(n: int, busy_s: float) -> np.ndarray:
    """(wall ms, thread CPU ms) of ``n`` loads, each in a fresh interpreter."""
    out = []
    for _ in range(n):
        done = subprocess.run([sys.executable, "-c", ONE_LOAD, str(MODEL), str(busy_s)], capture_output=True,
                              text=True, check=True)
        out.append([float(v) for v in done.stdout.split()])
    return np.asarray(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="append", default=[], help="an ab_call_pool.py arm's store (repeatable)")
    parser.add_argument("--bare", type=int, default=0, help="fresh-process loads a --busy-s value")
    parser.add_argument("--busy-s", type=float, action="append", default=None, help="busy work before each load")
    args = parser.parse_args()
    for store in args.store:
        for column in ("load_s", "load_cpu_s"):
            loads = stored_loads(store, column)
            if len(loads):
                print(f"{store} {column}: {len(loads)} calls, median {np.median(loads):.1f} ms; {histogram(loads)}")
    for busy in (args.busy_s or [0.0]) if args.bare else []:
        loads = bare_loads(args.bare, busy)
        share = loads[:, 1] / loads[:, 0]
        print(f"bare loads, {busy:g} s busy first: {len(loads)}, wall median {np.median(loads[:, 0]):.1f} ms, CPU "
              f"share of the wall time median {np.median(share):.2f} (min {share.min():.2f}); "
              f"{histogram(loads[:, 0])}")


if __name__ == "__main__":
    main()
