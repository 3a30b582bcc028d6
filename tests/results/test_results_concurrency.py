"""Real processes against one store: concurrent appenders lose no row; a SIGKILL leaves whole cells."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from genai_harness.results.store import ResultStore

# argv: store, writer tag, number of cells (0 = forever), rows per cell, go-file to wait for, and optionally a file to
# create once the first cell is in and a peer's such file to wait for before the next: the two writers then overlap
# in time by construction, not by the scheduler's grace (at load 5 one writer once finished before the other began).
WRITER = """
import os, sys, time
from genai_harness.results.store import ResultStore
path, tag, n_cells, per_cell, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
mine, peer = (sys.argv[6], sys.argv[7]) if len(sys.argv) > 7 else ("", "")
while not os.path.exists(go):
    time.sleep(0.005)
store = ResultStore(path)
cell = 0
while n_cells == 0 or cell < n_cells:
    rows = [
        {"run_id": tag, "workload_id": f"{tag}-cell-{cell}", "repetition": r, "status": "ok", "ttft_ms": float(r),
         "error": "x" * 2000, "native_metrics": {"tokens": list(range(200))}}
        for r in range(per_cell)
    ]
    store.append(rows)
    if cell == 0 and mine:
        open(mine, "w").close()
        deadline = time.monotonic() + 100
        while not os.path.exists(peer):
            if time.monotonic() > deadline:
                sys.exit(f"{tag}: the other writer never wrote its first cell")
            time.sleep(0.005)
    cell += 1
"""


def start_writer(store: Path, tag: str, n_cells: int, per_cell: int, go: Path,
                 meet: tuple[Path, Path] | None = None) -> subprocess.Popen[str]:
    """A writer process; with ``meet`` (its own first-cell file, its peer's), it waits for its peer after one cell."""
    args = [sys.executable, "-c", WRITER, str(store), tag, str(n_cells), str(per_cell), str(go)]
    args += [str(p) for p in meet] if meet else []
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_append_concurrently_without_losing_rows(tmp_path: Path) -> None:
    store_path, go = tmp_path / "shared" / "store.sqlite", tmp_path / "go"
    cells, per_cell = 200, 5
    first = {tag: tmp_path / f"{tag}.first" for tag in ("w1", "w2")}
    writers = [start_writer(store_path, tag, cells, per_cell, go, (first[tag], first[peer]))
               for tag, peer in (("w1", "w2"), ("w2", "w1"))]
    go.touch()  # both processes race to create the store and then to append
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "locked" not in err
    df = ResultStore(store_path).read()
    assert len(df) == 2 * cells * per_cell
    assert df.groupby("run_id").size().to_dict() == {"w1": cells * per_cell, "w2": cells * per_cell}
    assert (df.groupby("workload_id").size() == per_cell).all()
    # the two writers really overlapped in time (each wrote its last cell after the other's first)
    spans = df.groupby("run_id")["recorded_at"].agg(["min", "max"])
    assert spans["min"].max() < spans["max"].min()


def test_sigkill_mid_run_leaves_only_whole_cells(tmp_path: Path) -> None:
    store_path, go = tmp_path / "store.sqlite", tmp_path / "go"
    go.touch()
    per_cell = 50
    seen = 0
    for round_ in range(3):
        proc = start_writer(store_path, f"kill-{round_}", 0, per_cell, go)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # let it write a few cells, then kill it wherever it is
            if store_path.exists() and ResultStore(store_path).count() >= seen + (3 + round_) * per_cell:
                break
            time.sleep(0.01)
        time.sleep(0.013 * round_)
        proc.kill()
        proc.communicate(timeout=30)
        assert proc.returncode != 0
        store = ResultStore(store_path)
        df = store.read()
        assert len(df) > seen
        assert (df.groupby("workload_id").size() == per_cell).all()
        seen = len(df)
    store.append([{"run_id": "after", "status": "ok"}])
    assert store.count() == seen + 1
