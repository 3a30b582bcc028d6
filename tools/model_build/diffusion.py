"""The tiny Stable Diffusion: random-init SD-1.x-shaped diffusers pipeline (``tiny-sd/hf/``, bundled only
when small enough), its ONNX export (``tiny-sd/onnx/``, see ``sd_onnx``) and the openvino-genai folder made
from that export (``tiny-sd/openvino/``).

torch, diffusers, transformers and openvino are imported inside the functions that use them, so that
importing this module (``--help``) needs none of them.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from .clip_bpe import make_clip_tokenizer
from .common import (
    CORPUS,
    SEED,
    checkpoint_sha256,
    file_sha256,
    file_table,
    format_entry,
    fresh_dir,
    log,
    seed_everything,
    tool_versions,
    write_json,
)
from .recipes import SD_CONFIG, SD_TOKENIZER
from .sd_onnx import export_sd_onnx


def build_sd_pipeline(work: Path) -> tuple[Any, Path]:
    """Random-init SD-1.x-shaped pipeline (diffusers objects, in memory) and the folder of its raw CLIP BPE
    files (``vocab.json``, ``merges.txt``)."""
    # Lazy: torch / diffusers / transformers are the build toolchain, not needed for `--help`.
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer, bos_id, eos_id, raw = make_clip_tokenizer(work)
    seed_everything(SEED)
    te = {k: v for k, v in SD_CONFIG["text_encoder"].items() if k != "class"}
    text_encoder = CLIPTextModel(CLIPTextConfig(**te, bos_token_id=bos_id, eos_token_id=eos_id,
                                                pad_token_id=eos_id)).eval()
    un = {k: v for k, v in SD_CONFIG["unet"].items() if k != "class"}
    unet = UNet2DConditionModel(**un).eval()
    va = {k: v for k, v in SD_CONFIG["vae"].items() if k != "class"}
    vae = AutoencoderKL(**va).eval()
    sc = {k: v for k, v in SD_CONFIG["scheduler"].items() if k != "class"}
    scheduler = EulerDiscreteScheduler(**sc)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.to(torch.float32)
    return pipe, raw


def build_sd_openvino(onnx_dir: Path, hf_like: Path, ov_dir: Path) -> None:
    """Make the openvino-genai ``Text2ImagePipeline`` folder ``ov_dir`` from the ONNX export ``onnx_dir``
    (``openvino.convert_model`` per component, ``openvino_tokenizers.convert_tokenizer`` for the tokenizer)."""
    # Lazy: openvino / openvino_tokenizers / transformers are the build toolchain.
    import openvino as ov
    from openvino_tokenizers import convert_tokenizer
    from transformers import CLIPTokenizer

    fresh_dir(ov_dir)
    for comp in ("text_encoder", "unet", "vae_decoder"):
        d = ov_dir / comp
        d.mkdir()
        m = ov.convert_model(str(onnx_dir / comp / "model.onnx"))
        ov.save_model(m, str(d / "openvino_model.xml"), compress_to_fp16=False)
        shutil.copy(onnx_dir / comp / "config.json", d / "config.json")
    tok = CLIPTokenizer.from_pretrained(str(hf_like / "tokenizer"))
    ov_tok = convert_tokenizer(tok, with_detokenizer=False)
    (ov_dir / "tokenizer").mkdir()
    ov.save_model(ov_tok, str(ov_dir / "tokenizer" / "openvino_tokenizer.xml"))
    for f in sorted((onnx_dir / "tokenizer").iterdir()):
        shutil.copy(f, ov_dir / "tokenizer" / f.name)
    shutil.copytree(onnx_dir / "scheduler", ov_dir / "scheduler")
    shutil.copy(onnx_dir / "model_index.json", ov_dir / "model_index.json")


# The hf checkpoint of tiny-sd is committed only when it is at most this big (else: hashed only).
SD_HF_MAX_BYTES = 4_000_000


def build_tiny_sd(out: Path, work: Path) -> dict:
    """Build ``out/tiny-sd`` (hf when small enough, onnx, openvino) and return its manifest entry."""
    root = out / "tiny-sd"
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pipe, raw_bpe = build_sd_pipeline(work)
    hf_tmp = work / "tiny-sd-hf"
    pipe.save_pretrained(str(hf_tmp), safe_serialization=True)
    # keep the classic slow-tokenizer files beside tokenizer.json (numpy pipelines read these)
    shutil.copy(raw_bpe / "vocab.json", hf_tmp / "tokenizer" / "vocab.json")
    shutil.copy(raw_bpe / "merges.txt", hf_tmp / "tokenizer" / "merges.txt")
    normalize_diffusers_checkpoint(hf_tmp)
    ckpt_sha = checkpoint_sha256(hf_tmp)
    hf_files = file_table(hf_tmp, hf_tmp)
    hf_bytes = sum(r["size"] for r in hf_files)
    keep_hf = hf_bytes <= SD_HF_MAX_BYTES
    if (root / "hf").exists():
        shutil.rmtree(root / "hf")
    if keep_hf:
        shutil.copytree(hf_tmp, root / "hf")
    log(f"tiny-sd checkpoint ({hf_bytes / 1e6:.2f} MB, kept={keep_hf}) in {time.time() - t0:.1f}s")
    t0 = time.time()
    info = export_sd_onnx(pipe, hf_tmp, root / "onnx")
    log(f"tiny-sd onnx in {time.time() - t0:.1f}s")
    t0 = time.time()
    build_sd_openvino(root / "onnx", hf_tmp, root / "openvino")
    log(f"tiny-sd openvino in {time.time() - t0:.1f}s")

    n_params = {name: sum(p.numel() for p in getattr(pipe, name).parameters())
                for name in ("text_encoder", "unet", "vae")}
    formats = {}
    if keep_hf:
        formats["hf"] = format_entry(root / "hf", out)
    else:
        formats["hf"] = {"folder": None, "stored": False, "total_bytes": hf_bytes, "files": hf_files,
                         "note": "not bundled (size); rebuild with build_models.py --only tiny-sd"}
    formats["onnxruntime"] = format_entry(root / "onnx", out)
    formats["openvino"] = format_entry(root / "openvino", out)
    return {
        "id": "tiny-sd",
        "task": "text2image",
        "recipe": {
            "model": SD_CONFIG,
            "num_parameters": n_params,
            "tokenizer": SD_TOKENIZER,
            "seed": SEED,
            "tool_versions": tool_versions(),
            "init": "diffusers / transformers random init after torch.manual_seed(seed)",
            "corpus_sha256": file_sha256(CORPUS),
            "exports": {
                "onnxruntime": "torch.onnx.export per component: text_encoder dynamo opset 18; unet and "
                               "vae_decoder legacy (TorchScript) opset 17; unet timestep int64",
                "openvino": "openvino.convert_model(onnx/<component>/model.onnx) + save_model(compress_to_fp16="
                            "False) per component; openvino_tokenizers.convert_tokenizer(CLIPTokenizer)",
            },
            "io": info,
        },
        "formats": formats,
        "checkpoint_sha256": ckpt_sha,
    }


def normalize_diffusers_checkpoint(folder: Path) -> None:
    """Drop non-deterministic or useless bits (none known so far besides empty optional components)."""
    mi_path = folder / "model_index.json"
    mi = json.loads(mi_path.read_text(encoding="utf-8"))
    write_json(mi_path, mi)
