"""Does openvino-genai read its compiled-model cache? Two loads into one ``CACHE_DIR``, each in a fresh process.

For each way of loading tiny-llm's IR (``core``: ``openvino.Core().compile_model`` of the XML; ``llm``:
``openvino_genai.LLMPipeline``, PagedAttention by default; ``llm-sched``: LLMPipeline with the ``SchedulerConfig``
the harness passes, prefix caching off; ``llm-sdpa``: LLMPipeline with ``ATTENTION_BACKEND=SDPA``), an empty folder,
then two loads, each in its own process: the load time, whether a blob was written, rewritten or left alone, and
OpenVINO's ``LOADED_FROM_CACHE`` where the object exposes it (benchmarks/RESULTS.md, "What a worker's start costs,
trimmed": "openvino-genai's LLMPipeline never reads its compiled-model cache here").

Run: ``.venv/bin/python benchmarks/ov_cache_reuse.py``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import model_dir

MODEL = model_dir("openvino")
WAYS = ("core", "llm", "llm-sched", "llm-sdpa")


def files(folder: Path) -> dict[str, int]:
    """Every file in ``folder`` with its modification time (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def load(way: str, folder: Path) -> dict[str, object]:
    """One load of tiny-llm by ``way`` with ``CACHE_DIR`` = ``folder``: its time and what it did to the folder."""
    import openvino
    import openvino_genai

    from genai_harness.backends.ov_genai_pipeline import fresh_prompt_scheduler

    before = files(folder)
    start = time.perf_counter()
    if way == "core":
        compiled = openvino.Core().compile_model(str(MODEL / "openvino_model.xml"), "CPU", {"CACHE_DIR": str(folder)})
        from_cache = bool(compiled.get_property("LOADED_FROM_CACHE"))
    else:
        properties: dict[str, object] = {"CACHE_DIR": str(folder)}
        if way == "llm-sched":
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
    args = parser.parse_args()
    if args.child:
        print(json.dumps(load(args.child[0], Path(args.child[1]))))
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


if __name__ == "__main__":
    main()
