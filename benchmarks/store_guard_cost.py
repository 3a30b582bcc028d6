"""What the store's guards cost on a read (issue 24): the progress handler and value cap on every SQLite
connection, the catalog check at open, and the domain check of every metric value, on a whole-store read.

    nice -n 5 .venv/bin/python benchmarks/store_guard_cost.py --rows 200000 --rounds 5

Builds a store of realistic rows (benchmarks/store_scale.py's cells), then reads it whole, interleaving reads
with every guard on and with each switched off (the same process, the same file), and prints the median CPU
and wall time of each. Run under ``nice`` and report the load average it was taken at.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from store_scale import fill

from genai_harness.results.store import open_store
from genai_harness.results.stores import guard, reading


@contextlib.contextmanager
def unguarded(conn: Any) -> Iterator[None]:
    yield None


def read_with(spec: str, *, bounded: bool, domains: bool) -> tuple[float, float]:
    """One whole read (open included): wall and CPU seconds."""
    saved_bounded, saved_domains = guard.bounded, reading.set_aside_out_of_domain
    if not bounded:
        guard.bounded = unguarded  # type: ignore[assignment]
    if not domains:
        reading.set_aside_out_of_domain = lambda df, location: df
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            open_store(spec, create=False).read()
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        guard.bounded, reading.set_aside_out_of_domain = saved_bounded, saved_domains


def catalog_check(spec: str) -> float:
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{spec}?mode=ro", uri=True)) as conn:
        started = time.perf_counter()
        for _ in range(100):
            guard.foreign_objects(conn)
        return (time.perf_counter() - started) / 100


def raw_scan(spec: str, *, bounded: bool) -> float:
    """CPU seconds of SQLite alone: every column of every row fetched, with the guard or without."""
    import sqlite3

    conn = sqlite3.connect(f"file:{spec}?mode=ro", uri=True)
    with contextlib.closing(conn), guard.bounded(conn) if bounded else unguarded(conn):
        cpu = time.process_time()
        conn.execute("SELECT * FROM results JOIN cells ON cells.id = results.cell_id").fetchall()
        return time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        spec = str(Path(folder) / "store.sqlite")
        built = fill(spec, args.rows)
        print(f"built {args.rows} rows in {built:.1f} s; load average {os.getloadavg()[0]:.1f}")
        kinds = {"all guards": (True, True), "no progress handler/cap": (False, True),
                 "no domain check": (True, False), "none": (False, False)}
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        read_with(spec, bounded=True, domains=True)  # warm the page cache
        for _ in range(args.rounds):
            for name, (bounded, domains) in kinds.items():
                times[name].append(read_with(spec, bounded=bounded, domains=domains))
        for name, samples in times.items():
            wall = statistics.median(s[0] for s in samples)
            cpu = statistics.median(s[1] for s in samples)
            print(f"{name:26s} wall {wall:7.3f} s   cpu {cpu:7.3f} s")
        scans: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for on in (True, False):
                scans[on].append(raw_scan(spec, bounded=on))
        print(f"SQLite scan of every row and cell column, cpu: guarded {statistics.median(scans[True]):.3f} s, "
              f"unguarded {statistics.median(scans[False]):.3f} s")
        print(f"catalog check at open: {catalog_check(spec) * 1e3:.3f} ms; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
