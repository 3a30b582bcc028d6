"""What an openvino-genai cell spends reading its numerics back after the load, before and after a change.

Each process (fresh, one after another, the arms alternating) loads an LLM folder's ``LLMPipeline`` on the CPU
through the harness at the arm's SRC (not timed), then times ``pipeline.numerics``: the probe compile and the reading
of ``openvino_model.xml`` (weight dtypes, weight schemes, runtime options). It prints each arm's median and range
per model, the ratio of medians against the first arm, the load average, and whether every arm read back the same
numerics (it must: a change of speed only). benchmarks/RESULTS.md, "An openvino cell reads its IR once".

Run (a checkout of the commit before: ``git worktree add --detach /tmp/prev REV``): ``.venv/bin/python
benchmarks/ir_read.py --arm before=/tmp/prev/src --arm now=src --processes 6 --model-dir
~/.cache/genai-harness/models/smollm2-135m/int4/openvino`` (the bundled tiny-llm when no ``--model-dir``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import model_dir


def child(model: Path) -> dict[str, object]:
    """In a fresh process: load ``model`` (not timed), then time reading its numerics back."""
    from genai_harness.backends.registry import get_backend

    backend = get_backend("openvino.genai", "default")
    backend.import_runtime()
    device = next(d for d in backend.enumerate_devices() if d.identifier.startswith("CPU"))
    pipeline = backend.create_pipeline("text2text", model, device)
    start = time.perf_counter()
    numerics = pipeline.numerics
    took = time.perf_counter() - start
    return {"ms": took * 1000, "numerics": json.dumps(numerics.to_dict(), sort_keys=True, default=str)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", action="append", default=[], metavar="NAME=SRC",
                        help="a harness checkout's src folder (repeatable; the first is the reference)")
    parser.add_argument("--model-dir", action="append", default=[], type=Path)
    parser.add_argument("--processes", type=int, default=6, help="processes per arm and model")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    arms = [tuple(arm.split("=", 1)) for arm in args.arm]
    if len(arms) < 2 or any(len(arm) != 2 for arm in arms):
        parser.error("give two or more --arm NAME=SRC")
    models = args.model_dir or [model_dir("openvino")]
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    for model in models:
        taken: dict[str, list[float]] = {name: [] for name, _src in arms}
        read: dict[str, set[str]] = {name: set() for name, _src in arms}
        for index in range(args.processes):
            for name, src in arms[index % len(arms):] + arms[:index % len(arms)]:  # rotating order
                path = (str(Path(src).resolve()), os.environ.get("PYTHONPATH", ""))
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
                proc = subprocess.run([sys.executable, __file__, "--child", str(model)], env=env, capture_output=True,
                                      text=True, check=True)
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                taken[name].append(float(result["ms"]))
                read[name].add(str(result["numerics"]))
        reference = statistics.median(taken[arms[0][0]])
        print(model)
        for name, values in taken.items():
            median = statistics.median(values)
            print(f"  {name}: median {median:.0f} ms (range {min(values):.0f}-{max(values):.0f}), "
                  f"{median / reference:.2f} of {arms[0][0]}")
        same = len(set().union(*read.values())) == 1
        print(f"  numerics read back: {'the same in every process' if same else 'DIFFERENT between processes'}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
