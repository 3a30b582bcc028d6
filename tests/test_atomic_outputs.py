"""Files the harness writes appear whole or not at all (issue 24, item 8; :mod:`genai_harness.atomic`).

A real ``results --export`` of a large store, killed by SIGTERM or Ctrl-C once its temporary file exists, leaves
the earlier export byte for byte and no partial file; a real ``report --out`` onto a nearly full disk (a 1 MiB
tmpfs, mounted when this runs as root; else a file-size limit on the process) fails with one line and leaves the
earlier report.html whole.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from support import assert_one_error_line, cli_command, isolated_env, run_cli
from support.processes import wait_for
from support.stores import cell_rows

from genai_harness.atomic import atomic_output, write_text
from genai_harness.errors import StoreError
from genai_harness.results.store import ResultStore

# ---- the helper itself --------------------------------------------------------------------------------------------


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name]


def test_atomic_output_replaces_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old, complete\n")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".csv" and tmp != target
        tmp.write_text("half of the new")
        raise RuntimeError("cut short")
    assert target.read_text() == "old, complete\n" and _temporaries(tmp_path) == []
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old, complete\n" and _temporaries(tmp_path) == []
    write_text(target, "new\n")
    assert target.read_text() == "new\n" and (target.stat().st_mode & 0o777) == 0o640  # its mode kept
    assert _temporaries(tmp_path) == []


def test_atomic_output_writes_through_a_symlink_and_creates_the_folder(tmp_path: Path) -> None:
    real = tmp_path / "real" / "report.html"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    write_text(tmp_path / "a" / "b" / "c.txt", "x")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "x"


# ---- an export cut short by a signal ------------------------------------------------------------------------------

ROWS = 300_000
"""Rows of the large store: the streamed export writes them 10,000 at a time, so it runs for many batches after its
temporary file appears (seconds even on a fast machine); the signal comes within milliseconds of that."""


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store of ROWS rows: one cell appended through the store, its rows multiplied in SQL (fast)."""
    path = tmp_path_factory.mktemp("large") / "large.sqlite"
    ResultStore(path).append(cell_rows(n=1))
    with sqlite3.connect(path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(results)") if r[1] not in ("id", "row_key",
                                                                                                 "repetition")]
        listed = ", ".join(columns)
        conn.execute(f"""
            INSERT INTO results (row_key, repetition, {listed})
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS - 1})
            SELECT lower(hex(randomblob(16))), n.i, {listed} FROM n, (SELECT * FROM results LIMIT 1)""")
    assert ResultStore(path, create=False).count() == ROWS
    return path


INTERRUPTIBLE = ("import signal, sys\n"
                 "signal.signal(signal.SIGINT, signal.default_int_handler)  # even where our parent ignores it\n"
                 "from genai_harness.cli import main\n"
                 "sys.exit(main(sys.argv[1:]))\n")


@pytest.mark.parametrize(("suffix", "signum", "exit_code"), [
    (".parquet", signal.SIGTERM, 143),
    (".parquet", signal.SIGINT, 130),
    (".csv", signal.SIGTERM, 143),
])
def test_an_interrupted_export_leaves_the_earlier_file_whole(large_store: Path, tmp_path: Path, suffix: str,
                                                            signum: int, exit_code: int) -> None:
    out = tmp_path / f"m{suffix}"
    small = tmp_path / "small.sqlite"  # a complete earlier export of other rows: a small store's
    ResultStore(small).append(cell_rows(n=5))
    earlier = run_cli("results", "--store", small, "--export", out, cwd=tmp_path)
    assert earlier.returncode == 0, earlier.stderr
    before = out.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTIBLE, "results", "--store", str(large_store),
                             "--export", str(out)], cwd=tmp_path, env=isolated_env(tmp_path, None),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _temporaries(tmp_path) or proc.poll() is not None, timeout=300,
                 what="the export's temporary file")
        assert proc.poll() is None, "the export ended before it could be interrupted"
        proc.send_signal(signum)
        _, err_text = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == exit_code, err_text
    assert "interrupted" in err_text and "Traceback" not in err_text, err_text
    assert out.read_bytes() == before  # the earlier complete file, byte for byte
    assert _temporaries(tmp_path) == []  # and no partial one
    assert len(pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)) == 5


def test_a_completed_export_replaces_the_earlier_file(large_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    out.write_bytes(b"an earlier file")
    proc = run_cli("results", "--store", large_store, "--export", out, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(out, columns=["run_id"])) == ROWS and _temporaries(tmp_path) == []


# ---- a report onto a nearly full disk -----------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[str]:
    """``folder`` on a 1 MiB tmpfs (as root); yields "tmpfs", or "rlimit" where nothing can be mounted (the
    command then runs under a file-size limit: a write past it fails, as on a full disk)."""
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True).returncode == 0
    try:
        yield "tmpfs" if mounted else "rlimit"
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def _fill(folder: Path, leave: int) -> None:
    """Fill ``folder``'s file system until about ``leave`` bytes are free."""
    with open(folder / "filler", "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:  # unbuffered: the write that finds the disk full raises here, nothing is left to flush
            handle.write(b"\0" * 4096)
    os.truncate(folder / "filler", max(0, (folder / "filler").stat().st_size - leave))


def _file_size_limit(limit: int) -> None:  # in the child, before exec: writes past ``limit`` bytes fail (EFBIG)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_report_on_a_nearly_full_disk_keeps_the_previous_report(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows(n=5))
    out = tmp_path / "out"
    with small_disk(out) as how:
        first = run_cli("report", "--store", store, "--out", out, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        report = out / "report.html"
        before = report.read_bytes()
        assert len(before) > 16_384
        ResultStore(store).append(cell_rows(run_id="run-2", n=5))  # the next report differs
        command = [*cli_command(), "report", "--store", str(store), "--out", str(out)]
        if how == "tmpfs":
            _fill(out, leave=8_192)
            proc = subprocess.run(command, cwd=tmp_path, env=isolated_env(tmp_path, None), capture_output=True,
                                  text=True, timeout=240)
        else:
            proc = subprocess.run(command, cwd=tmp_path, env=isolated_env(tmp_path, None), capture_output=True,
                                  text=True, timeout=240, preexec_fn=lambda: _file_size_limit(8_192))
        line = assert_one_error_line(proc, exit_code=StoreError.exit_code)
        assert "cannot write the report" in line, line
        assert report.read_bytes() == before  # the previous report, whole
        assert _temporaries(out) == []


def test_a_report_written_in_full_replaces_the_previous_one(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    ResultStore(store).append(cell_rows(n=5))
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("an earlier report")
    proc = run_cli("report", "--store", store, "--out", out, "--png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert list(out.glob("*.png")) and _temporaries(out) == []
