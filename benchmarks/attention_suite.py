"""Run the attention operator suite on every runtime/EP here, into a results store; print the coverage matrix.

    .venv/bin/python benchmarks/attention_suite.py [--suite attention|attention-full] [--store PATH] [--reps N]

Targets: onnxruntime CPU EP (.venv), onnxruntime OpenVINO EP (.venvs/ort-openvino, when present), OpenVINO
reading ONNX directly. Each cell is its own subprocess. Then ``genai-harness results --store PATH --coverage``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from pathlib import Path

from genai_harness.results.coverage import coverage_counts, coverage_matrix
from genai_harness.results.store import ResultStore
from genai_harness.workloads.operators.cells import (
    OperatorTarget,
    matmul_peak_gflops,
    run_cell,
    validate_specs,
)
from genai_harness.workloads.operators.suites import SUITES

REPO = Path(__file__).resolve().parents[1]


def targets() -> list[OperatorTarget]:
    """Every runtime/EP that can take an ONNX model on this machine."""
    found = [OperatorTarget("onnxruntime", "CPUExecutionProvider", sys.executable),
             OperatorTarget("openvino", "openvino", sys.executable)]
    ov_ep = REPO / ".venvs" / "ort-openvino" / "bin" / "python"
    if ov_ep.exists():
        found.append(OperatorTarget("onnxruntime", "OpenVINOExecutionProvider", str(ov_ep), "ort-openvino"))
    return found


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="attention", choices=sorted(SUITES))
    ap.add_argument("--store", default="attention-results.sqlite")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    started = time.perf_counter()
    specs = validate_specs(SUITES[args.suite]())
    peak = matmul_peak_gflops()
    store, run_id = ResultStore(args.store), uuid.uuid4().hex[:12]
    run_started = dt.datetime.now(dt.timezone.utc).isoformat()
    print(f"{len(specs)} specs x {len(targets())} targets; matmul peak {peak:.1f} GFLOP/s", file=sys.stderr)
    for spec in specs:
        for target in targets():
            row = run_cell(spec, target, reps=args.reps, peak_gflops=peak)
            store.append([{**row, "run_id": run_id, "run_started_at": run_started, "repetition": 0}])
    matrix = coverage_matrix(store.read(run_id=run_id))
    print(matrix.to_string())
    print(coverage_counts(matrix).to_string())
    print(f"suite {args.suite}: {time.perf_counter() - started:.0f} s wall", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
