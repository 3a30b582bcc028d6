"""Bounds on what an SQLite file from elsewhere can make the harness do: a store is data, never a program.

- **Signals end SQLite work.** Python runs its signal handlers only between bytecodes, never while SQLite is in
  C, so a query that never ends (an infinitely recursive view) used to ignore SIGTERM and Ctrl-C. Every
  connection gets a progress handler, called every :data:`PROGRESS_STEPS` virtual-machine steps; a signal that
  arrives while SQLite works goes to the handler that was there before; what it raises is held
  (:func:`_hold_signal`), the statement stops and it is raised again (:func:`raise_held`): Ctrl-C and SIGTERM
  end the command as they always do. A handler that defers (the runner's, while it writes a finished cell)
  lets SQLite finish. A signal that arrives while Python runs is handed on at once.
- **An optional deadline** (:data:`DEADLINE_ENV`, seconds) stops any one connection's work after that long.
- **No value over** :data:`MAX_VALUE_BYTES`: SQLite's own length limit refuses to read or write a larger string
  or blob before it allocates it, so a 300 MB blob costs nothing but one line (Python 3.11+, which can set it).
- **Only the harness's own schema** (:func:`foreign_objects`): triggers, views, indexes on the harness's tables
  that it did not create, virtual or generated columns; a store holding one is refused before anything is read
  or written.

Costs: the progress handler is one Python call per 10,000 SQLite steps (see README, "What survives").
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

MAX_VALUE_BYTES = 16 * 2**20
"""The largest string or blob one stored value may hold (16 MiB), on write and on read. A machine profile is a
few KiB; the longest per-position latency list of a 100k-token generation is under 2 MiB."""
PROGRESS_STEPS = 10_000
"""SQLite virtual-machine steps between two calls of the progress handler (microseconds of work)."""
DEADLINE_ENV = "GENAI_HARNESS_STORE_TIMEOUT_S"
"""Environment variable: stop any SQLite connection's work after this many seconds (unset: no deadline)."""
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

HARNESS_TABLES = frozenset({"meta", "results", "cells", "blobs", "planned_cells"})
"""The tables genai-harness reads and writes (an older store has only ``meta`` and ``results``)."""
HARNESS_INDEXES = frozenset({
    "results_cell", "cells_run_id", "cells_machine_model", "cells_workload", "cells_started",
    "planned_cells_run_id", "results_run_id", "results_machine_model",
})
"""Every index any genai-harness version created on its tables (the last two: schema 0-2)."""

_held: BaseException | None = None
"""What a signal's handler raised while SQLite worked: raised again once the statement has stopped."""
_depth = 0
_previous: dict[int, Any] = {}


def _make_progress(deadline: float | None) -> Callable[[], int]:
    def progress() -> int:  # SQLite stops the statement when this returns non-zero
        return 1 if _held is not None or (deadline is not None and time.monotonic() > deadline) else 0
    return progress


_PROGRESS_CODE = _make_progress(None).__code__  # every progress handler runs this code


def _hold_signal(signum: int, frame: FrameType | None) -> None:
    """Our handler while a connection is open. Python runs it between bytecodes: inside SQLite that is only the
    progress handler, where an exception would be lost (SQLite sees a failed callback); there the handler that
    was installed before runs now and what it raises is held until the statement has stopped. A handler that
    does not raise (the runner's, while it writes a finished cell) lets SQLite go on."""
    global _held
    if frame is not None and frame.f_code is _PROGRESS_CODE:
        try:
            _hand_on(signum, frame)
        except BaseException as exc:  # raised again by raise_held() once SQLite has stopped
            _held = exc
        return
    _hand_on(signum, frame)


def _hand_on(signum: int, frame: FrameType | None) -> None:
    """Give ``signum`` to the handler that was installed before ours (the default action if none)."""
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous) and previous is not _hold_signal:
        previous(signum, frame)
    elif previous is signal.SIG_DFL or previous is None:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)  # the default action: the process ends as it would have


def deadline_seconds() -> float | None:
    """The deadline :data:`DEADLINE_ENV` asks for, in seconds (None: unset, empty, not a positive number)."""
    text = os.environ.get(DEADLINE_ENV, "").strip()
    try:
        seconds = float(text) if text else 0.0
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def _deadline() -> float | None:
    seconds = deadline_seconds()
    return None if seconds is None else time.monotonic() + seconds


@contextlib.contextmanager
def bounded(conn: sqlite3.Connection) -> Iterator[float | None]:
    """Within the block, ``conn`` refuses values over :data:`MAX_VALUE_BYTES` and stops on a signal or the
    deadline (yielded: a ``time.monotonic()`` value or None). Signal handlers are swapped in the main thread
    only, once for all the connections open at a time."""
    global _depth, _held
    deadline = _deadline()
    if hasattr(conn, "setlimit"):  # Python 3.11+ (on 3.10 values are capped only by SQLite's 1 GB build limit)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.set_progress_handler(_make_progress(deadline), PROGRESS_STEPS)
    main = threading.current_thread() is threading.main_thread()
    if main:
        if _depth == 0:
            _held = None
            for signum in HELD_SIGNALS:
                if signal.getsignal(signum) is None:  # a handler installed from C: left alone, as it cannot be restored
                    continue
                with contextlib.suppress(ValueError, OSError):
                    _previous[signum] = signal.signal(signum, _hold_signal)
        _depth += 1
    try:
        yield deadline
    finally:
        if main:
            _depth -= 1
            if _depth == 0:
                for signum, previous in list(_previous.items()):
                    if signal.getsignal(signum) is _hold_signal:  # unless someone replaced ours meanwhile
                        signal.signal(signum, previous)
                _previous.clear()


def raise_held() -> None:
    """After SQLite said "interrupted": raise what a signal's handler raised meanwhile (``KeyboardInterrupt``,
    the runner's ``Terminated``), if anything."""
    global _held
    if _held is not None:
        held, _held = _held, None
        raise held


def past(deadline: float | None) -> bool:
    """Whether ``deadline`` (from :func:`bounded`) has passed."""
    return deadline is not None and time.monotonic() > deadline


def foreign_objects(conn: sqlite3.Connection) -> list[str]:
    """What the file holds beyond the schema genai-harness creates, one phrase each ("trigger 'x' on results").

    Only the catalog is read (``sqlite_master`` is always a plain table), so no view or trigger runs here.
    Tables the harness never touches are ignored: they are neither read nor written.
    """
    found: list[str] = []
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    for kind, name, table, sql in rows:
        if kind in ("trigger", "view"):
            found.append(f"{kind} {name!r}" + (f" on {table}" if kind == "trigger" else ""))
        elif kind == "index" and table in HARNESS_TABLES and name not in HARNESS_INDEXES \
                and not str(name).startswith("sqlite_autoindex_"):
            found.append(f"index {name!r} on {table}")
        elif kind == "table" and name in HARNESS_TABLES and _virtual(sql):
            found.append(f"virtual table {name!r}")
    tables = {name for kind, name, _, sql in rows if kind == "table" and name in HARNESS_TABLES and not _virtual(sql)}
    for table in sorted(tables):
        hidden = [r[1] for r in conn.execute(f"PRAGMA table_xinfo({table})") if r[6]]
        found += [f"generated column {table}.{column}" for column in hidden]
    return found


def _virtual(sql: Any) -> bool:
    return str(sql or "").lstrip().upper().startswith("CREATE VIRTUAL")
