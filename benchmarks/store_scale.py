"""The store at fleet scale (issue 13): bytes per row, a filtered 10k-row slice, a streamed Parquet export,
for SQLite and PostgreSQL alike; and 8 writer processes into each.

    .venv/bin/python benchmarks/store_scale.py --rows 1000000            # SQLite and PostgreSQL, 1M rows each
    .venv/bin/python benchmarks/store_scale.py --rows 1000000 --only sqlite
    .venv/bin/python benchmarks/store_scale.py --writers-only            # 8 writers: PostgreSQL vs SQLite

PostgreSQL runs in a throwaway server (tests/pg_server.py). Rows are realistic: cells of 10 repetitions,
a 1.9 KB machine profile per row as the runner writes it, 20 machines, 8 models, 6 workloads.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pg_server import PostgresServer, available

from genai_harness.results.export import stream_parquet
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import open_store

REPS = 10
PROFILE = {"cpu": "AMD EPYC 7B13 64-Core Processor", "flags": ["f" * 12] * 120, "memory_gb": 24}


def cell(index: int) -> list[dict[str, Any]]:
    """The rows of cell ``index``: its machine, model and workload vary as in a lab."""
    machine, model, workload = index % 20, index % 8, (index // 8) % 6
    run = index // 48
    base = {
        "run_id": f"20261128T{run:08d}-{machine:04x}", "run_started_at": f"2026-11-{1 + run % 28:02d}T10:00:00+00:00",
        "machine_fingerprint": f"{machine:016x}", "hostname": f"lab-{machine}",
        "machine_profile": {**PROFILE, "host": machine}, "runtime_versions": {"onnxruntime": "1.32.0"},
        "environment": "default", "python_executable": "/opt/venv/bin/python", "framework": "onnxruntime_genai",
        "device": "CPU", "device_identifier": "cpu", "task": "text2text", "workload_id": f"text-w{workload}",
        "workload_version": 1, "workload_hash": f"{workload:064x}", "model_id": f"model-{model}",
        "model_format": "onnx", "model_hash": f"{model:064x}", "precision": "f32", "threads": 2,
        "status": "ok",
    }
    return [{**base, "repetition": r, "recorded_at": f"2026-11-28T10:{index % 60:02d}:{r:02d}.{index:06d}+00:00",
             "load_s": 1.5, "ttft_ms": 10.0 + r, "tpot_ms": 2.0 + r / 10, "itl_p50_ms": 2.0, "itl_p90_ms": 2.5,
             "decode_tps": 480.0 + r, "prefill_tps": 9000.0, "e2e_ms": 80.0 + r, "n_input_tokens": 128,
             "n_new_tokens": 32, "peak_rss_mb": 512.0 + r} for r in range(REPS)]


def fill(spec: str, rows: int) -> float:
    store = open_store(spec)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for index in range(rows // REPS):
        batch.extend(cell(index))
        if len(batch) >= 5000:
            store.append(batch)
            batch = []
    if batch:
        store.append(batch)
    return time.perf_counter() - started


def size_bytes(spec: str) -> int:
    if spec.startswith("postgresql"):
        import psycopg

        with psycopg.connect(spec) as conn:
            return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
    return sum(os.path.getsize(p) for p in Path(spec).parent.glob(Path(spec).name + "*"))


def measure(name: str, spec: str, rows: int, folder: Path) -> dict[str, Any]:
    write_s = fill(spec, rows)
    store = open_store(spec, create=False)
    assert store.count() == rows, store.count()
    if spec.startswith("postgresql"):
        import psycopg

        with psycopg.connect(spec, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    size = size_bytes(spec)
    # one machine's runs of one model: 20 machines x 8 models -> 1/160 of the rows; pick a run range for ~10k
    slice_filter = ResultFilter(machine_fingerprints=f"{3:016x}", model_ids="model-3",
                                workload_ids=("text-w0", "text-w1"))  # 1/120 of the rows: 8.3k of 1M
    times = []
    for _ in range(3):
        started = time.perf_counter()
        df = store.read(slice_filter)
        times.append(time.perf_counter() - started)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    exported = stream_parquet([store], folder / f"{name}.parquet")
    export_s = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"store": name, "rows": rows, "bytes_per_row": size / rows, "write_s": write_s,
            "slice_rows": len(df), "slice_s_median": sorted(times)[1], "export_rows": exported,
            "export_s": export_s, "peak_rss_growth_mib": (rss_after - rss_before) / 1024,
            "peak_rss_mib": rss_after / 1024, "parquet_mib": (folder / f"{name}.parquet").stat().st_size / 2**20}


WRITER = """
import sys, time
sys.path.insert(0, {bench!r})
from store_scale import cell
from genai_harness.results.store import open_store
spec, writer, cells = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = open_store(spec)
for i in range(cells):
    store.append(cell(writer * 1_000_000 + i))  # one transaction per cell, as the runner writes
"""


def writers(spec: str, n: int, cells: int) -> float:
    open_store(spec)
    code = WRITER.format(bench=str(Path(__file__).resolve().parent))
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code, spec, str(w), str(cells)]) for w in range(n)]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"writer failed on {spec}")
    elapsed = time.perf_counter() - started
    assert open_store(spec).count() == n * cells * REPS
    return n * cells * REPS / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--writers-only", action="store_true")
    parser.add_argument("--cells", type=int, default=60, help="cells per writer in the 8-writer test")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="genai-harness-bench-"))
    server = PostgresServer() if available() is None and args.only != "sqlite" else None
    try:
        if not args.writers_only:
            for name in ("sqlite", "postgresql"):
                if args.only not in (None, name) or (name == "postgresql" and server is None):
                    continue
                spec = str(folder / "s.sqlite") if name == "sqlite" else server.url(server.new_database())
                print(measure(name, spec, args.rows, folder), flush=True)
        # 8 writers, interleaved: SQLite, PostgreSQL, SQLite, PostgreSQL
        for round_ in range(2):
            for name in ("sqlite", "postgresql"):
                if name == "postgresql" and server is None:
                    continue
                spec = str(folder / f"w{round_}.sqlite") if name == "sqlite" else server.url(server.new_database())
                print({"writers": 8, "store": name, "round": round_,
                       "rows_per_s": round(writers(spec, 8, args.cells), 1)}, flush=True)
    finally:
        if server is not None:
            server.remove()


if __name__ == "__main__":
    main()
