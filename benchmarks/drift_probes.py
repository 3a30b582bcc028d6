"""What sees the drift between CI jobs? Probes of the machine's speed timed beside a pool of separate runs.

The gate's calibration kernel (one thread, 64 KiB, timed inside each cell) moved little while the two-thread text
cells of a whole job ran 23-30 % slower (benchmarks/RESULTS.md, "The job level, a second pool"). This script asks
which probe would have seen it. ``--sample`` runs beside a pool (``gate_calibrated.py --measure``) and once a second
times four short probes (a one-thread and a two-thread cache-resident sort, a one-thread and a two-thread 32 MiB
memory read), reading the hypervisor's steal time and the machine's busy time from ``/proc/stat``; each a JSON
line with its wall-clock time. About 2 % of one core. ``--judge`` joins the samples to the pool's runs by time and
prints, per cell and metric, how the runs' log medians (deviations from the cell's mean) correlate with each
probe averaged over the run, and how the residuals the in-cell kernel leaves (``calib_ms``, fitted per cell)
correlate with each probe: a probe that sees the drift the kernel misses correlates with those.

Run: ``nice -n 5 .venv/bin/python benchmarks/drift_probes.py --sample PROBES.jsonl &`` beside
``nice -n 5 .venv/bin/python benchmarks/gate_calibrated.py --measure 100 --store POOL.sqlite``, then
``.venv/bin/python benchmarks/drift_probes.py --judge PROBES.jsonl --store POOL.sqlite``.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from datetime import datetime

import numpy as np

SORT_SIZE, SORTS = 4096, 140
MEMORY_DOUBLES = 4 * 1024 * 1024  # 32 MiB
PROBES = ("sort1", "sort2", "mem1", "mem2")


def _stat() -> tuple[int, int, int]:
    """(busy, steal, total) ticks of all CPUs from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle - fields[7], fields[7], sum(fields)


def _timed_threads(work, count: int) -> float:
    """Wall ms of ``count`` threads each running ``work(index)`` at once."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    start = time.perf_counter_ns()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter_ns() - start) / 1e6


def sample(path: str, period_s: float) -> None:
    """Append one JSON line of probe times per period, until killed."""
    rng = np.random.default_rng(20261207)
    small = [rng.random(SORT_SIZE) for _ in range(2)]
    big = [rng.random(MEMORY_DOUBLES) for _ in range(2)]

    def sort(i: int) -> None:
        for _ in range(SORTS):
            np.sort(small[i], kind="quicksort")

    def read(i: int) -> None:
        float(big[i].sum())

    before = _stat()
    while True:
        started = time.time()
        times = {"sort1": _timed_threads(sort, 1), "sort2": _timed_threads(sort, 2),
                 "mem1": _timed_threads(read, 1), "mem2": _timed_threads(read, 2)}
        now = _stat()
        total = max(1, now[2] - before[2])
        entry = {"t": started, **times, "busy": (now[0] - before[0]) / total, "steal": (now[1] - before[1]) / total}
        before = now
        with open(path, "a") as fh:
            fh.write(json.dumps(entry) + "\n")
        time.sleep(max(0.0, period_s - (time.time() - started)))


def judge(path: str, store: str) -> None:
    """Correlate the pool's per-run log medians with each probe averaged over the run's minutes."""
    import pandas as pd

    from genai_harness.results.query import ResultFilter
    from genai_harness.results.store import ResultStore

    with open(path) as fh:
        samples = pd.DataFrame([json.loads(line) for line in fh])
    frame = ResultStore(store, create=False).read(ResultFilter(statuses="ok"))
    frame["t"] = [datetime.fromisoformat(str(v)).timestamp() for v in frame["recorded_at"]]
    windows = frame.groupby("run_id")["t"].agg(["min", "max"])
    per_run = {}
    for run, (low, high) in windows.iterrows():
        inside = samples[(samples["t"] >= low - 1) & (samples["t"] <= high + 1)]
        if len(inside):
            per_run[run] = {p: float(np.log(inside[p].mean())) for p in PROBES} | {
                "steal": float(inside["steal"].mean()), "busy": float(inside["busy"].mean())}
    probes = pd.DataFrame(per_run).T
    print(f"{len(probes)} runs with samples; steal share mean {probes['steal'].mean():.4f} "
          f"(max {probes['steal'].max():.4f}); busy mean {probes['busy'].mean():.2f}")
    metrics = [m for m in ("tpot_ms", "ttft_ms", "load_s", "image_ms", "inference_ms") if m in frame.columns]
    rows = []
    keys = [c for c in ("framework", "device", "workload_id", "model_id", "precision", "threads") if c in frame.columns]
    for cell, group in frame.groupby(keys, dropna=False):
        for metric in metrics:
            if group[metric].notna().sum() == 0:
                continue
            medians = group.groupby("run_id")[metric].median()
            kernel = group.groupby("run_id")["calib_ms"].mean()
            runs = [r for r in medians.index if r in probes.index]
            if len(runs) < 10:
                continue
            y = np.log(medians[runs].to_numpy())
            y = y - y.mean()
            row = {"cell": " ".join(str(v) for v in cell)[:70], "metric": metric, "runs": len(runs),
                   "sd": float(y.std(ddof=1))}
            columns = {"calib": np.log(kernel[runs].to_numpy()), **{p: probes.loc[runs, p].to_numpy(dtype=float)
                                                                   for p in (*PROBES, "steal", "busy")}}
            k = columns["calib"] - columns["calib"].mean()
            residual = y - (k @ y) / (k @ k) * k  # what the in-cell kernel leaves
            row["sd_after_calib"] = float(residual.std(ddof=1))
            for name, x in columns.items():
                x = x - x.mean()
                r = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 else math.nan
                row[f"r_{name}"] = round(r, 2)
                if name != "calib":
                    left = float(np.corrcoef(x, residual)[0, 1]) if x.std() > 0 else math.nan
                    row[f"left_{name}"] = round(left, 2)
            rows.append(row)
    pd.set_option("display.width", 250)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", metavar="PROBES.jsonl")
    parser.add_argument("--period", type=float, default=1.0)
    parser.add_argument("--judge", metavar="PROBES.jsonl")
    parser.add_argument("--store")
    args = parser.parse_args()
    if args.sample:
        sample(args.sample, args.period)
    elif args.judge and args.store:
        judge(args.judge, args.store)
    else:
        parser.error("give --sample FILE, or --judge FILE --store POOL")


if __name__ == "__main__":
    main()
