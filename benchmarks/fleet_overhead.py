"""Overhead of a Ray-scheduled cell against a local one (issue 13), side by side in one process.

    .venv/bin/python benchmarks/fleet_overhead.py --rounds 4

A one-node Ray cluster (``ray.cluster_utils.Cluster``) advertises this machine's CPU; each round runs the
same suite of real cells (bundled tiny-llm, onnxruntime_genai on CPU) once locally and once with
``ray_address=``, alternating which goes first. Reported: the median wall time per cell of each and the
difference, which is what Ray adds (task submission, a Ray worker, its own machine-profile probe).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from genai_harness.runner.benchmark import run
from genai_harness.runner.fleet.resources import device_resource

SUITE = """id = "fleet-bench"

[[entries]]
workload = "{workload}"
models = ["tiny-llm"]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--workload", default="text-p128-g32")
    args = parser.parse_args()
    import ray
    from ray.cluster_utils import Cluster

    folder = Path(tempfile.mkdtemp(prefix="genai-harness-fleet-"))
    suite = folder / "suite.toml"
    suite.write_text(SUITE.format(workload=args.workload))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2,
                                                            "resources": {device_resource("CPU", "default"): 1}})
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    times: dict[str, list[float]] = {"local": [], "ray": []}
    try:
        for round_ in range(args.rounds):
            order = ["local", "ray"] if round_ % 2 == 0 else ["ray", "local"]
            for how in order:
                started = time.perf_counter()
                frame = run(str(suite), frameworks=["onnxruntime_genai"], devices=["CPU"], progress=False,
                            store=folder / f"{how}.sqlite", ray_address=cluster.address if how == "ray" else None)
                cells = frame[["workload_id", "model_id", "device"]].drop_duplicates().shape[0]
                assert (frame["status"] == "ok").all(), frame["error"].tolist()
                times[how].append((time.perf_counter() - started) / cells)
                print({"round": round_, "how": how, "s_per_cell": round(times[how][-1], 3)}, flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    local, remote = statistics.median(times["local"]), statistics.median(times["ray"])
    print({"local_s_per_cell": round(local, 3), "ray_s_per_cell": round(remote, 3),
           "ray_overhead_s_per_cell": round(remote - local, 3)})


if __name__ == "__main__":
    main()
