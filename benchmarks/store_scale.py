"""The store at fleet scale (issue 13): bytes per row, a filtered 10k-row slice, a streamed Parquet export,
for SQLite and PostgreSQL alike; and 8 writer processes into each.

    .venv/bin/python benchmarks/store_scale.py --rows 1000000            # SQLite and PostgreSQL, 1M rows each
    .venv/bin/python benchmarks/store_scale.py --rows 1000000 --only sqlite
    .venv/bin/python benchmarks/store_scale.py --writers-only --cells 500 --cell-rows 5  # 8 writers each
    .venv/bin/python benchmarks/store_scale.py --sqlite BIG.sqlite --postgresql URL  # measure stores built before

PostgreSQL runs in a throwaway server (tests/support/postgres.py). Rows are realistic: cells of 10 repetitions,
a 1.9 KB machine profile per row as the runner writes it, 20 machines, 8 models, 6 workloads, 28 days.
The slice is one machine's rows of one model over 12 days (10,710 of 1M rows); it is read both ways, side
by side: through ``read`` (cells once, joined in pandas) and row-wise (every cell column per row, as schema
3 first read it), CPU and wall time each. The Parquet export runs in a child process whose peak RSS is its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.postgres import PostgresServer, available

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


TABLES = ("results", "cells", "blobs", "meta", "planned_cells")
SLICE = ResultFilter(machine_fingerprints=f"{3:016x}", model_ids="model-3", since="2026-11-01",
                     until="2026-11-12T23:59:59+00:00")
"""One machine's rows of one model over 12 of 28 days: 1/40 x 12/28 of the store (10,710 of 1M rows)."""


def size_bytes(spec: str) -> int:
    """The store's tables and indexes on disk (PostgreSQL: pg_total_relation_size; SQLite: the files)."""
    if spec.startswith("postgresql"):
        import psycopg

        with psycopg.connect(spec) as conn:
            return int(sum(conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0] for t in TABLES))
    return sum(os.path.getsize(p) for p in Path(spec).parent.glob(Path(spec).name + "*"))


def row_wise(store: Any, filter: ResultFilter) -> Any:
    """The slice read the way schema 3 first read it: every cell column, blobs included, per row."""
    from genai_harness.results.stores.reading import check_columns, frame

    wanted = check_columns(None)
    with store._connect() as conn:
        sql, params, names = store._select(conn, filter, wanted)
        records = store._fetchall(conn, sql, params)
    return frame(records, names, wanted, store.location)


def timed(call: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


EXPORT = """
import sys, time
from genai_harness.results.export import stream_parquet
from genai_harness.results.store import open_store


def mib(field):  # this process's own figures (ru_maxrss would include the parent's, from before the exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) / 1024


store = open_store(sys.argv[1], create=False)
opened = mib("VmHWM:")
started = time.perf_counter()
rows = stream_parquet([store], sys.argv[2])
print(rows, time.perf_counter() - started, opened, mib("VmHWM:"))
"""


def measure(name: str, spec: str, folder: Path, rounds: int = 5) -> dict[str, Any]:
    """Size, the slice read both ways (interleaved, ``rounds`` times) and the streamed export of a built store."""
    import pandas as pd

    store = open_store(spec, create=False)
    rows = store.count()
    if spec.startswith("postgresql"):
        import psycopg

        with psycopg.connect(spec, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    size = size_bytes(spec)
    new, old = [], []
    for _ in range(rounds):
        df, wall, cpu = timed(lambda: store.read(SLICE))
        new.append((wall, cpu))
        before, wall, cpu = timed(lambda: row_wise(store, SLICE))
        old.append((wall, cpu))
        pd.testing.assert_frame_equal(df, before)
    target = folder / f"{name}.parquet"
    proc = subprocess.run([sys.executable, "-c", EXPORT, spec, str(target)], capture_output=True, text=True,
                          check=True)
    exported, export_s, rss_open, rss_peak = proc.stdout.split()

    def median(times: list[tuple[float, float]], which: int) -> float:
        return round(sorted(t[which] for t in times)[len(times) // 2], 3)

    return {"store": name, "rows": rows, "bytes_per_row": round(size / rows, 1), "slice_rows": len(df),
            "slice_wall_s": median(new, 0), "slice_cpu_s": median(new, 1),
            "row_wise_wall_s": median(old, 0), "row_wise_cpu_s": median(old, 1),
            "export_rows": int(exported), "export_s": round(float(export_s), 1),
            "export_rss_open_mib": round(float(rss_open)), "export_peak_rss_mib": round(float(rss_peak)),
            "parquet_mib": round(target.stat().st_size / 2**20, 1), "load": os.getloadavg()}


WRITER = """
import sys, time
sys.path.insert(0, {bench!r})
from store_scale import cell
from genai_harness.results.store import open_store
spec, writer, cells, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = open_store(spec)
print(time.time(), flush=True)  # ready: interpreters start before the clock runs
sys.stdin.readline()
for i in range(cells):
    store.append(cell(writer * 1_000_000 + i)[:rows])  # one transaction per cell, as the runner writes
"""


def writers(spec: str, n: int, cells: int, rows: int) -> dict[str, Any]:
    """``n`` processes each appending ``cells`` cells of ``rows`` rows, started together once all are up."""
    open_store(spec)
    code = WRITER.format(bench=str(Path(__file__).resolve().parent))
    procs = [subprocess.Popen([sys.executable, "-c", code, spec, str(w), str(cells), str(rows)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for w in range(n)]
    for p in procs:
        p.stdout.readline()
    started = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"writer failed on {spec}")
    elapsed = time.perf_counter() - started
    stored, expected = open_store(spec).count(), n * cells * rows
    if stored != expected:
        raise SystemExit(f"{spec}: {stored} rows stored, {expected} written")
    return {"rows": stored, "count_check": f"{stored} == {n} x {cells} x {rows}", "seconds": round(elapsed, 1),
            "rows_per_s": round(stored / elapsed, 1), "cells_per_s": round(n * cells / elapsed, 1),
            "load": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--writers-only", action="store_true")
    parser.add_argument("--sqlite", help="measure this SQLite store built before (skips filling one)")
    parser.add_argument("--postgresql", help="measure this PostgreSQL store built before (skips filling one)")
    parser.add_argument("--cells", type=int, default=60, help="cells per writer in the 8-writer test")
    parser.add_argument("--cell-rows", type=int, default=REPS, help="rows per cell in the 8-writer test")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the 8-writer test")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="genai-harness-bench-"))
    built = {"sqlite": args.sqlite, "postgresql": args.postgresql}
    need_server = args.only != "sqlite" and (args.rounds > 0 or not (args.writers_only or args.postgresql))
    server = PostgresServer() if available() is None and need_server else None
    try:
        if server is not None:  # durable commits, as SQLite's WAL makes them (pg_server turns fsync off for tests)
            server.sql("ALTER SYSTEM SET fsync = on")
            server.sql("SELECT pg_reload_conf()")
        if not args.writers_only:
            for name in ("sqlite", "postgresql"):
                if args.only not in (None, name) or (name == "postgresql" and server is None and not built[name]):
                    continue
                spec = built[name]
                if spec is None:
                    spec = str(folder / "s.sqlite") if name == "sqlite" else server.url(server.new_database())
                    print({"store": name, "filled_rows": args.rows, "write_s": round(fill(spec, args.rows), 1)},
                          flush=True)
                print(measure(name, spec, folder), flush=True)
        # 8 writers, interleaved: SQLite, PostgreSQL, SQLite, PostgreSQL
        for round_ in range(args.rounds):
            for name in ("sqlite", "postgresql"):
                if name == "postgresql" and server is None:
                    continue
                spec = str(folder / f"w{round_}.sqlite") if name == "sqlite" else server.url(server.new_database())
                print({"writers": 8, "store": name, "round": round_,
                       **writers(spec, 8, args.cells, args.cell_rows)}, flush=True)
    finally:
        if server is not None:
            server.remove()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
