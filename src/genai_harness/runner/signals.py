"""SIGTERM and SIGHUP end a run the way Ctrl-C does.

CI sends SIGTERM when a job is cancelled; a closed terminal sends SIGHUP. Both become a
:class:`Terminated` (a ``KeyboardInterrupt``) raised in the main thread, so the same path runs as for
Ctrl-C: the cell in flight is recorded as interrupted, its worker is killed, its temporary folder is
removed, and the CLI prints one line and exits 128 + the signal number (143 for SIGTERM, 129 for SIGHUP).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum


_deferring = 0
_pending: list[int] = []


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM/SIGHUP wait: a finished cell's rows are written whole, then the
    signal takes effect (raised on leaving the block). Only where :func:`signals_interrupt` is active."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending:
            signum = _pending.pop()
            _pending.clear()
            raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def interrupt_reason(exc: BaseException) -> str:
    """``interrupted by the user (Ctrl-C)`` or ``interrupted by SIGTERM``."""
    if isinstance(exc, Terminated):
        return f"interrupted by {exc.signal_name}"
    return "interrupted by the user (Ctrl-C)"


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` and SIGINT ``KeyboardInterrupt``
    (main thread only; else a no-op), except inside :func:`signals_deferred`.

    Only the first signal raises: later ones are ignored while the interrupted run cleans up. A signal
    whose handler is not the default (the application's own, or ignored as under ``nohup``) is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        if _deferring:
            _pending.append(signum)
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt()
        raise Terminated(signum)

    handled = [sig for sig in HANDLED if signal.getsignal(sig) is signal.SIG_DFL]  # nohup: SIGHUP stays ignored
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        handled.append(signal.SIGINT)
    # A handler someone else installed (the application, or C code: getsignal() says None) is left alone.
    previous = {sig: signal.signal(sig, handler) for sig in handled}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
