"""What a command costs before its first cell: ``genai-harness devices`` and a one-cell ``run``, each in a fresh
process, for two or more checkouts of the harness interleaved (the arms' order rotating every round).

The one-cell run is tiny-llm ``text-p128-g32`` on onnxruntime-genai's CPU (``--no-cold-start``, a store of its own),
the smallest real run. Each arm runs once unmeasured first (its caches as a user's second command finds them).
Prints per arm and command the median wall time and its range.

Run: ``git worktree add --detach /tmp/old REV``, then ``.venv/bin/python benchmarks/cli_start.py --arm
before=/tmp/old/src --arm now=src --rounds 8``.
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

SUITE = 'id = "cli-start"\n[[entries]]\nworkload = "text-p128-g32"\nmodels = ["tiny-llm"]\n'


def commands(folder: Path) -> dict[str, list[str]]:
    """The timed commands of one arm (each after ``python -m genai_harness.cli``; its run's store in ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    suite = folder / "suite.toml"
    suite.write_text(SUITE)
    return {"devices": ["devices", "--json"],
            "run, one cell": ["run", "--suite", str(suite), "--framework", "onnxruntime_genai", "--device", "CPU",
                              "--no-cold-start", "--quiet", "--store", str(folder / "runs.sqlite")]}


def timed(src: str, argv: list[str]) -> float:
    """Wall seconds of ``genai-harness ARGV`` on the harness at ``src``, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": src}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "genai_harness.cli", *argv], env=env, capture_output=True,
                          text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed on {src}: {proc.stderr.strip().splitlines()[-1:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", action="append", required=True, metavar="NAME=SRC")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    arms = dict(a.split("=", 1) for a in args.arm)
    folder = Path(tempfile.mkdtemp(prefix="cli-start-"))
    todo = {name: commands(folder / name) for name in arms}  # a store each: the arms' schemas may differ
    for name, src in arms.items():  # unmeasured: each arm's caches as a second command finds them
        for argv in todo[name].values():
            timed(src, argv)
    took: dict[tuple[str, str], list[float]] = {}
    names = list(arms)
    for index in range(args.rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            for label, argv in todo[name].items():
                took.setdefault((name, label), []).append(timed(arms[name], argv))
    print(f"load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds; python -m genai_harness.cli")
    for (name, label), values in took.items():
        print(f"{name:10s} {label:15s} median {statistics.median(values):.2f} s "
              f"(range {min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
