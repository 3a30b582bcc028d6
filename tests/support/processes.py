"""Watching a runner and its worker processes from a test: wait for a condition, find and kill workers, read rows."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from genai_harness.results.store import ResultStore
from genai_harness.runner.launcher import WORKER_MODULE


def wait_for(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def workers_of(pid: int) -> list[psutil.Process]:
    """Worker subprocesses (cells, inventories) below process ``pid``."""
    found = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:
            if WORKER_MODULE in child.cmdline():  # python -m genai_harness.worker REQUEST RESPONSE
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def alive(proc: psutil.Process) -> bool:
    """Whether ``proc`` (the very process, not a reuse of its pid) still runs."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def hanging(workers: list[psutil.Process]) -> bool:
    """Whether the one worker has started and now sits idle (the fake 'hang' sleeps), its CPU time not moving."""
    if len(workers) != 1:
        return False
    try:
        before = sum(workers[0].cpu_times()[:2])
        time.sleep(0.25)
        return workers[0].status() == psutil.STATUS_SLEEPING and sum(workers[0].cpu_times()[:2]) == before
    except psutil.NoSuchProcess:
        return False


def kill_quietly(procs: list[psutil.Process]) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def store_rows(path: Path) -> pd.DataFrame:
    return ResultStore(path, create=False).read()
