"""The walk of `genai-harness run` through the package, measured on the parent side of one tiny real cell.

Prints (1) the call stack at the first row written to the store (the walk from the command to a stored row): its
files in order and how often it returns to a file already on it; (2) every package file whose functions ran in the
parent process (module import code excluded), and how many calls entered a file from another one.
Usage: ``.venv/bin/python benchmarks/run_walk.py`` (``PYTHONPATH=OTHER/src`` measures another checkout the same way).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from genai_harness.cli import main

MARK = "/genai_harness/"


def _rel(frame: FrameType | None) -> str:
    name = frame.f_code.co_filename if frame is not None else ""
    return name.split(MARK, 1)[1] if MARK in name else ""


def _suite(folder: Path) -> Path:
    workload = folder / "walk.toml"
    workload.write_text('id = "walk"\nversion = 1\ntask = "text2text"\n[input]\nprompt_tokens = 16\nnew_tokens = 4\n'
                        "[run]\nwarmup = 0\nrepetitions = 1\ntimeout_s = 120\n")
    suite = folder / "suite.toml"
    suite.write_text(f'id = "walk"\n[[entries]]\nworkload = "{workload}"\nmodels = ["tiny-llm"]\n')
    return suite


def _run(folder: Path, store: str) -> int:
    return main(["run", "--suite", str(_suite(folder)), "--framework", "onnxruntime_genai", "--device", "CPU",
                 "--store", str(folder / store), "--quiet"])


def main_walk() -> int:
    """Measure and print both views; returns the runs' exit code."""
    entries: list[tuple[str, str]] = []
    stack: list[str] = []

    def every_call(frame: FrameType, event: str, arg: Any) -> None:
        rel = _rel(frame)
        if event == "call" and rel and frame.f_code.co_name != "<module>" and _rel(frame.f_back) != rel:
            entries.append((_rel(frame.f_back), rel))

    def first_insert(frame: FrameType, event: str, arg: Any) -> None:
        if stack or event != "c_call" or getattr(arg, "__name__", "") != "executemany":
            return
        here: FrameType | None = frame
        while here is not None:
            if _rel(here):
                stack.append(_rel(here))
            here = here.f_back
        stack.reverse()

    with tempfile.TemporaryDirectory(prefix="genai-walk-") as tmp:
        sys.setprofile(every_call)
        rc = _run(Path(tmp), "a.sqlite")
        sys.setprofile(first_insert)
        rc = rc or _run(Path(tmp), "b.sqlite")
        sys.setprofile(None)
    walk = [f for i, f in enumerate(stack) if i == 0 or stack[i - 1] != f]
    returns = sum(1 for i, f in enumerate(walk) if f in walk[:i])
    print(f"walk to the first stored row: {len(set(walk))} files, {returns} return(s) to a file already on it")
    print("  " + " -> ".join(walk))
    files = list(dict.fromkeys(rel for _caller, rel in entries))
    print(f"files whose functions ran in the parent: {len(files)}; calls entering a file from another: {len(entries)}")
    print("  " + " ".join(files))
    return rc


if __name__ == "__main__":
    sys.exit(main_walk())
