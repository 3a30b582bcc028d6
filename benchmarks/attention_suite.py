"""Time ``genai-harness run --suite attention`` end to end and print its coverage matrix.

    .venv/bin/python benchmarks/attention_suite.py [--suite attention|attention-full|FILE] [--store PATH]

Runs the real CLI (every runtime/EP that takes an ONNX model here, through the normal runner) as one
subprocess, and reports its wall time beside the load average before and after (the machine is shared:
say so with the figure). Then prints ``genai-harness results --coverage`` of that store. Equivalent by hand:
``time .venv/bin/genai-harness run --suite attention --store /tmp/att.sqlite``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "genai_harness.cli"]
BUDGET_S = 180.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="attention")
    ap.add_argument("--store", default=None, help="default: a fresh temporary store")
    args = ap.parse_args()
    store = args.store or str(Path(tempfile.mkdtemp(prefix="attention-")) / "att.sqlite")
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.run([*CLI, "run", "--suite", args.suite, "--store", store, "--quiet"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()
    if proc.returncode not in (0, 9):  # 9: some cell crashed or timed out (recorded in the store)
        print(proc.stderr, file=sys.stderr)
        return proc.returncode
    coverage = subprocess.run([*CLI, "results", "--store", store, "--coverage"], cwd=REPO, capture_output=True,
                              text=True, check=False)
    print(coverage.stdout)
    verdict = "within" if wall <= BUDGET_S else "OVER"
    print(f"suite {args.suite}: {wall:.0f} s wall ({verdict} the {BUDGET_S:.0f} s budget); load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after (2 cores, shared); exit {proc.returncode}; "
          f"store {store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
