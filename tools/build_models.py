"""Build the bundled tiny models (offline, seeded, reproducible).

This is a maintainer tool, not part of the harness runtime (so it lives in ``tools/``, outside the
package): nothing in ``genai_harness`` imports it,
and it needs the heavy build toolchain (torch, transformers, optimum-intel, diffusers, onnx ...)
pinned in ``requirements-build.txt``::

    python3 -m venv .venvs/build
    .venvs/build/bin/python -m pip install -r requirements-build.txt
    .venvs/build/bin/pip uninstall -y torchvision     # CUDA build that breaks transformers beside CPU torch
    PYTHONPATH=src .venvs/build/bin/python tools/build_models.py \
        [--out DIR] [--only tiny-llm|tiny-sd]

Default ``--out`` is ``src/genai_harness/workloads/models``. No network access is needed (no model hub).

What it writes under ``--out``:

``tiny-llm/``
    ``hf/``                 random-init ``LlamaForCausalLM`` (safetensors + config) and its own byte-level
                            BPE tokenizer trained on ``corpus/public_domain.txt``. Byte-identical on every
                            rebuild with the same toolchain.
    ``onnxruntime_genai/``  ``python -m onnxruntime_genai.models.builder -p fp32 -e cpu`` of ``hf/``.
    ``openvino/``           ``optimum-cli export openvino --task text-generation-with-past --weight-format fp32``
                            of ``hf/`` (with openvino_tokenizer / openvino_detokenizer).
    ``onnx/``               a standard-op export of ``hf/`` (torch.onnx dynamo, opset 23: Attention,
                            RotaryEmbedding, RMSNormalization; no contrib ops) for plain onnxruntime sessions
                            (format ``onnx_decoder``; ``tools/model_build/standard_onnx.py``).
``tiny-sd/``
    ``hf/``                 random-init Stable-Diffusion-1.x-shaped diffusers pipeline (tiny CLIP text encoder,
                            UNet2DConditionModel, AutoencoderKL, EulerDiscreteScheduler, hand-made CLIP BPE).
    ``onnx/``               one ONNX export per component (text encoder: dynamo exporter, opset 18; UNet and VAE
                            decoder: legacy TorchScript exporter, opset 17, UNet ``timestep`` int64) plus
                            tokenizer, scheduler config, ``model_index.json`` and ``components.json`` (the I/O
                            contract a numpy pipeline needs).
    ``openvino/``           an openvino-genai ``Text2ImagePipeline`` folder made from the ONNX files above with
                            ``openvino.convert_model`` per component and ``openvino_tokenizers.convert_tokenizer``.
``manifest.json``
    schema version, per model the recipe (architecture, parameters, seed, tool versions), per format the
    folder and every file's size and sha256, and ``checkpoint_sha256`` (over the ``hf/`` files; stable
    across rebuilds). The ONNX / OpenVINO exports are not guaranteed byte-reproducible.

The tiny LLM tokenizer adds no BOS/EOS in any runtime (transformers, onnxruntime-genai,
openvino-tokenizers): ids are identical everywhere. Random weights emit meaningless tokens (and EOS at
random): callers must force generation lengths.
"""


from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

# model_build imports only the standard library at module level (the toolchain is imported lazily by
# the builders), so `--help` works without torch & co.
from model_build.common import DEFAULT_OUT, log
from model_build.diffusion import build_tiny_sd
from model_build.llm import build_tiny_llm
from model_build.manifest import load_manifest, log_summary, write_manifest


def main(argv: list[str] | None = None) -> int:
    """Build the models selected by ``argv`` into ``--out`` and update its ``manifest.json``."""
    ap = argparse.ArgumentParser(prog="tools/build_models.py",
                                 description="Build the bundled tiny models (offline, seeded).")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--only", choices=["tiny-llm", "tiny-sd"], default=None, help="build one model only")
    args = ap.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = load_manifest(manifest_path)

    t_all = time.time()
    with tempfile.TemporaryDirectory(prefix="genai_harness_build_") as tmp:
        work = Path(tmp)
        if args.only in (None, "tiny-llm"):
            manifest["models"]["tiny-llm"] = build_tiny_llm(out, work)
        if args.only in (None, "tiny-sd"):
            manifest["models"]["tiny-sd"] = build_tiny_sd(out, work)
    write_manifest(manifest_path, manifest)
    log(f"done in {time.time() - t_all:.1f}s -> {out}")
    log_summary(manifest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
