"""Does openvino-genai read its compiled-model cache? Two loads into one ``CACHE_DIR``, each in a fresh process.

For each way of loading tiny-llm's IR (``core``: ``openvino.Core().compile_model`` of the XML; ``core-pa``: the same
after OpenVINO's own SDPA-to-PagedAttention transformation, the graph LLMPipeline compiles on PagedAttention; ``llm``:
``openvino_genai.LLMPipeline``, PagedAttention by default; ``llm-sched``: LLMPipeline with the ``SchedulerConfig`` the
harness passes, prefix caching off; ``llm-sdpa``: LLMPipeline with ``ATTENTION_BACKEND=SDPA``; ``-size``: the same with
``CACHE_MODE=OPTIMIZE_SIZE``, the weightless blob), an empty folder, then two loads, each in its own process: the load
time, whether a blob was written, rewritten or left alone, and OpenVINO's ``LOADED_FROM_CACHE`` where the object
exposes it. Then, without any cache: whether the plugin imports what it exports of each graph (``export_model`` then
``import_model``), and the runtime's own error where it does not: a cache whose blob cannot be imported is compiled
again and rewritten on every load (benchmarks/RESULTS.md, "openvino-genai's LLMPipeline never reads its compiled-model
cache: why").

Run: ``.venv/bin/python benchmarks/ov_cache_reuse.py``
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import model_dir

MODEL = model_dir("openvino")
WAYS = ("core", "core-pa", "core-pa-size", "llm", "llm-sched", "llm-sched-size", "llm-sdpa")
GRAPHS = ("core", "core-pa")


def files(folder: Path) -> dict[str, int]:
    """Every file in ``folder`` with its modification time (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def graph(way: str) -> Any:
    """tiny-llm's IR as read (``core``) or after OpenVINO's SDPA-to-PagedAttention transformation (``core-pa``)."""
    import openvino
    from openvino._offline_transformations import paged_attention_transformation

    model = openvino.Core().read_model(str(MODEL / "openvino_model.xml"))
    if way.startswith("core-pa"):
        paged_attention_transformation(model)
    return model


def round_trip(way: str) -> str:
    """Whether the CPU plugin imports its own export of ``way``'s graph: ``imports``, or its error (last line)."""
    import openvino

    from genai_harness.backends.base import first_line

    core = openvino.Core()
    exported = io.BytesIO()
    core.compile_model(graph(way), "CPU").export_model(exported)
    exported.seek(0)
    try:
        core.import_model(exported, "CPU")
    except RuntimeError as exc:
        return f"import of its own export failed: {first_line(exc)}"
    return "imports its own export"


def load(way: str, folder: Path) -> dict[str, object]:
    """One load of tiny-llm by ``way`` with ``CACHE_DIR`` = ``folder``: its time and what it did to the folder."""
    import openvino
    import openvino_genai

    from genai_harness.backends.ov_genai_pipeline import fresh_prompt_scheduler

    before = files(folder)
    start = time.perf_counter()
    cache: dict[str, object] = {"CACHE_DIR": str(folder)}
    if way.endswith("-size"):  # the weightless blob: the graph serialized, weights read from the IR again
        cache["CACHE_MODE"] = "OPTIMIZE_SIZE"
    if way.startswith("core"):
        compiled = openvino.Core().compile_model(graph(way), "CPU", cache)
        from_cache = bool(compiled.get_property("LOADED_FROM_CACHE"))
    else:
        properties: dict[str, object] = dict(cache)
        if way.startswith("llm-sched"):
            properties["scheduler_config"] = fresh_prompt_scheduler()
        if way == "llm-sdpa":
            properties["ATTENTION_BACKEND"] = "SDPA"
        openvino_genai.LLMPipeline(str(MODEL), "CPU", **properties)
        from_cache = None
    took = time.perf_counter() - start
    after = files(folder)
    return {"s": took, "from_cache": from_cache, "new": sorted(set(after) - set(before)),
            "rewritten": sorted(f for f in after if f in before and after[f] != before[f])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("WAY", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--round-trip", metavar="WAY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(load(args.child[0], Path(args.child[1]))))
        return
    if args.round_trip:
        print(round_trip(args.round_trip))
        return
    for way in WAYS:
        with tempfile.TemporaryDirectory(prefix="ov-cache-") as folder:
            taken = []
            for _ in range(2):
                proc = subprocess.run([sys.executable, __file__, "--child", way, folder], capture_output=True,
                                      text=True)
                if proc.returncode:
                    lines = proc.stderr.strip().splitlines()
                    taken.append(f"failed ({lines[-1][:160] if lines else proc.returncode})")
                    break
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                taken.append(f"{result['s']:.3f} s, new {len(result['new'])}, rewritten {len(result['rewritten'])}"
                             + ("" if result["from_cache"] is None else f", LOADED_FROM_CACHE {result['from_cache']}"))
            print(f"{way}: " + "; then ".join(taken))
    for way in GRAPHS:  # each in its own process, as the loads above
        proc = subprocess.run([sys.executable, __file__, "--round-trip", way], capture_output=True, text=True)
        lines = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        print(f"{way}, no cache: {lines[-1] if lines else f'exit code {proc.returncode}'}")


if __name__ == "__main__":
    main()
