"""Report speed and size: ``genai-harness report`` over a 100k-row store (goal <= 10 s) and the HTML size of a
smoke run's report (goal <= 3 MB).

The 100k-row store is synthetic but shaped like a real one (20 targets, text/image/classification cells, 10
repetitions per cell and run, 125 runs, one failed cell per run, written through ResultStore.append). The smoke
store is a real run of the bundled tiny-llm on onnxruntime-genai (two runs, the second 1.5x slowed down, so the
report holds compare verdicts). Each report is the real CLI in a fresh process, timed from start to exit; its CPU
time includes the forked workers that draw the figures (reaped before it exits). The big store's report runs with
the default ``--jobs`` (the CPUs, at most 4) and with ``--jobs 1``, interleaved.

    .venv/bin/python benchmarks/report_speed.py [--rounds 3] [--rows-runs 125]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.frames import results_frame  # noqa: E402

from genai_harness.results.store import ResultStore  # noqa: E402

CLI = [sys.executable, "-m", "genai_harness.cli"]
WORKLOAD = """id = "report-bench"
version = 1
task = "text2text"
[input]
prompt_tokens = 32
new_tokens = 16
[run]
warmup = 1
repetitions = 5
timeout_s = 120
"""


def timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of the CLI in a fresh process: on a shared machine the CPU
    time is what the report costs, the wall time what a user waited under that load."""
    started = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"report failed: {proc.stderr.read().decode().strip() if proc.stderr else status}")
    return elapsed, usage.ru_utime + usage.ru_stime


def big_store(root: Path, runs: int) -> Path:
    store = root / "big.sqlite"
    frame = results_frame(devices=20, runs=runs, repetitions=10, failed=1, seed=1)
    ResultStore(store).append(frame.to_dict("records"))
    return store


def smoke_store(root: Path) -> tuple[Path, str]:
    workload = root / "w.toml"
    workload.write_text(WORKLOAD)
    suite = root / "suite.toml"
    suite.write_text(f'id = "bench"\n[[entries]]\nworkload = "{workload}"\nmodels = ["tiny-llm"]\n')
    store = root / "smoke.sqlite"
    common = ["run", "--suite", str(suite), "--framework", "onnxruntime_genai", "--store", str(store), "--quiet"]
    for extra in ([], ["--inject-slowdown", "1.5"]):
        subprocess.run([*CLI, *common, *extra], check=True, capture_output=True, cwd=REPO)
    first = ResultStore(store).read(columns=["run_id", "recorded_at"])["run_id"].iloc[0]
    return store, str(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows-runs", type=int, default=125, help="runs in the big store (800 rows each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        big = big_store(root, args.rows_runs)
        rows = ResultStore(big).count()
        smoke, first_run = smoke_store(root)
        big_times, serial_times, smoke_times = [], [], []
        load_before = os.getloadavg()[0]
        for i in range(args.rounds):  # interleaved: all see the same load
            big_times.append(timed(["report", "--store", str(big), "--out", str(root / f"big{i}")]))
            serial_times.append(timed(["report", "--store", str(big), "--jobs", "1", "--out", str(root / f"one{i}")]))
            smoke_times.append(timed(["report", "--store", str(smoke), "--baseline", f"@{first_run}",
                                      "--out", str(root / f"smoke{i}")]))
        big_size = (root / "big0" / "report.html").stat().st_size
        smoke_size = (root / "smoke0" / "report.html").stat().st_size
    for name, times, size in (("big store", big_times, big_size), ("big store, --jobs 1", serial_times, big_size),
                              ("smoke run", smoke_times, smoke_size)):
        walls, cpus = [t[0] for t in times], [t[1] for t in times]
        print(f"{name}: report wall median {statistics.median(walls):.1f} s, "
              f"CPU median {statistics.median(cpus):.1f} s "
              f"(rounds wall/CPU {', '.join(f'{w:.1f}/{c:.1f}' for w, c in times)}); HTML {size / 2**20:.2f} MiB"
              + (f"; {rows} rows" if name.startswith("big store") else ""))
    print(f"load average (1 min) at the start {load_before:.1f}, at the end {os.getloadavg()[0]:.1f}, "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
