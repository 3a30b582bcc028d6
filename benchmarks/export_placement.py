"""Which onnxruntime EP loads which export, and how much of it the EP takes (issue 21, the plain-onnxruntime column
of the export matrix, before the plain-onnxruntime text backend records it per cell).

For every ``model.onnx`` of a ``models build --exports`` build (or the folders given), in every Python environment
given (the main one's CPU EP; a venv with onnxruntime-openvino for its OpenVINO EP), one session is created with
verbose logging (``genai_harness.backends.ort_placement``): it loads, or the runtime refuses it in its own words;
where it loads, the nodes per EP and what fell back to the CPU EP.

    PYTHONPATH=src .venv/bin/python benchmarks/export_placement.py ~/.cache/genai-harness/models/smollm2-135m \\
        --env default=.venv/bin/python:CPUExecutionProvider \\
        --env ort-openvino=.venvs/ort-openvino/bin/python:OpenVINOExecutionProvider
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys, time
from genai_harness.backends.ort_placement import probe_placement
import onnxruntime as ort
model, ep = sys.argv[1], sys.argv[2]
options = [{"device_type": "CPU"}] if ep == "OpenVINOExecutionProvider" else None
started = time.perf_counter()
try:
    placement = probe_placement(model, [ep], options)
    out = {"loads": True, "nodes": placement.nodes, "cpu_ops": placement.cpu_ops}
except Exception as exc:
    out = {"loads": False, "error": " ".join(str(exc).split())[-400:]}
out.update(seconds=round(time.perf_counter() - started, 2), onnxruntime=ort.__version__)
print(json.dumps(out))
"""


def census_nodes(model: Path) -> int:
    """Nodes of the model's own graph (what the share is of)."""
    from genai_harness.workloads.op_census import census_totals, onnx_census

    return sum(census_totals(onnx_census(model)))


def main() -> int:
    """Probe every export on every environment and print one line each (JSON with --json)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builds", nargs="+", type=Path, help="a build folder (every */*/model.onnx) or export folders")
    ap.add_argument("--env", action="append", required=True, metavar="NAME=PYTHON:EP")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    models = sorted({m for b in args.builds for m in ([b / "model.onnx"] if (b / "model.onnx").is_file()
                                                      else b.glob("*/*/model.onnx"))})
    src = Path(__file__).resolve().parents[1] / "src"
    lines = []
    for model in models:
        total = census_nodes(model)
        for spec in args.env:
            name, rest = spec.split("=", 1)
            python, ep = rest.rsplit(":", 1)
            done = subprocess.run([python, "-c", PROBE, str(model), ep], capture_output=True, text=True,
                                  env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}, timeout=900)
            try:
                result = json.loads(done.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                result = {"loads": False, "error": f"crashed (exit {done.returncode}): "
                                                   f"{(done.stderr.strip().splitlines() or ['-'])[-1][:300]}"}
            cpu = result.get("nodes", {}).get("CPUExecutionProvider", 0)
            if result.get("loads"):
                result["ep_node_share"] = 1.0 if ep == "CPUExecutionProvider" else round(1 - cpu / total, 3)
            lines.append({"export": str(model.parent.relative_to(model.parents[2])), "env": name, "ep": ep,
                          "model_nodes": total, **result})
    if args.json:
        print(json.dumps(lines, indent=1))
    for line in lines:
        what = (f"loads in {line['seconds']} s; nodes {line['nodes']}; EP share {line['ep_node_share']}; "
                f"on CPU: {line['cpu_ops'] or 'nothing'}") if line["loads"] else f"REFUSED: {line['error']}"
        print(f"{line['export']:45} {line['env']}/{line['ep']} (onnxruntime {line.get('onnxruntime', '?')}): {what}",
              file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
