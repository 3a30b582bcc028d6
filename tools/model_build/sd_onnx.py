"""ONNX export of the tiny Stable Diffusion pipeline: one ``model.onnx`` per component (text encoder,
UNet, VAE decoder) with its configs, tokenizer, scheduler and ``components.json`` I/O contract.

torch and onnx are imported inside the functions that use them (build toolchain only).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .common import SEED, fresh_dir, seed_everything, write_json
from .recipes import SD_CONFIG, SD_TOKENIZER


def onnx_io(path: Path) -> dict:
    """Inputs (initializers excluded), outputs and opset of an ONNX file, as JSON-ready dicts."""
    # Lazy: onnx is part of the build toolchain.
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    init = {i.name for i in m.graph.initializer}

    def desc(v):
        t = v.type.tensor_type
        return {"name": v.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name,
                "shape": [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else None)
                          for d in t.shape.dim]}

    return {"inputs": [desc(v) for v in m.graph.input if v.name not in init],
            "outputs": [desc(v) for v in m.graph.output],
            "opset": max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))}


def export_sd_onnx(pipe: Any, hf_like: Path, onnx_dir: Path) -> dict:
    """Export the pipeline's text encoder, UNet and VAE decoder to ``onnx_dir/<component>/model.onnx``,
    copy configs, tokenizer, scheduler and ``model_index.json`` from the diffusers checkpoint ``hf_like``,
    and write ``components.json`` (the I/O contract); returns that contract."""
    # Lazy: torch is the build toolchain, not needed for `--help`.
    import torch

    fresh_dir(onnx_dir)
    tok_len = SD_TOKENIZER["model_max_length"]
    te_cfg = SD_CONFIG["text_encoder"]
    un_cfg = SD_CONFIG["unet"]
    lat_c = SD_CONFIG["vae"]["latent_channels"]
    lat_hw = un_cfg["sample_size"]

    class TextEncoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            o = self.m(input_ids=input_ids, return_dict=True)
            return o.last_hidden_state, o.pooler_output

    class UNet(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, sample, timestep, encoder_hidden_states):
            return self.m(sample, timestep, encoder_hidden_states, return_dict=False)[0]

    class VaeDecoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, latent_sample):
            return self.m.decode(latent_sample, return_dict=False)[0]

    seed_everything(SEED)
    with torch.no_grad():
        # text encoder: dynamo exporter, opset 18
        d = onnx_dir / "text_encoder"
        d.mkdir()
        ids = torch.full((1, tok_len), pipe.tokenizer.eos_token_id, dtype=torch.int64)
        ids[0, 0] = pipe.tokenizer.bos_token_id
        batch = torch.export.Dim("batch", min=1, max=64)
        prog = torch.onnx.export(TextEncoder(pipe.text_encoder).eval(), (ids,), dynamo=True, opset_version=18,
                                 input_names=["input_ids"], output_names=["last_hidden_state", "pooler_output"],
                                 dynamic_shapes={"input_ids": {0: batch}}, external_data=False,
                                 optimize=True, verbose=False)
        prog.save(str(d / "model.onnx"), external_data=False)
        # UNet: legacy exporter, opset 17, int64 timestep
        d = onnx_dir / "unet"
        d.mkdir()
        sample = torch.randn(2, lat_c, lat_hw, lat_hw)
        ts = torch.tensor([999], dtype=torch.int64)
        ehs = torch.randn(2, tok_len, te_cfg["hidden_size"])
        torch.onnx.export(UNet(pipe.unet).eval(), (sample, ts, ehs), str(d / "model.onnx"), dynamo=False,
                          opset_version=17, input_names=["sample", "timestep", "encoder_hidden_states"],
                          output_names=["out_sample"], do_constant_folding=True,
                          dynamic_axes={"sample": {0: "batch", 2: "height", 3: "width"},
                                        "timestep": {0: "steps"},
                                        "encoder_hidden_states": {0: "batch", 1: "sequence"},
                                        "out_sample": {0: "batch", 2: "height", 3: "width"}})
        # VAE decoder: legacy exporter, opset 17
        d = onnx_dir / "vae_decoder"
        d.mkdir()
        lat = torch.randn(1, lat_c, lat_hw, lat_hw)
        torch.onnx.export(VaeDecoder(pipe.vae).eval(), (lat,), str(d / "model.onnx"), dynamo=False,
                          opset_version=17, input_names=["latent_sample"], output_names=["sample"],
                          do_constant_folding=True,
                          dynamic_axes={"latent_sample": {0: "batch", 2: "height", 3: "width"},
                                        "sample": {0: "batch", 2: "height", 3: "width"}})
    for comp in ("text_encoder", "unet", "vae_decoder"):
        _assert_single_file(onnx_dir / comp)
        _strip_onnx_metadata(onnx_dir / comp / "model.onnx")

    # configs, tokenizer, scheduler, model_index (copied from the diffusers checkpoint layout)
    shutil.copy(hf_like / "text_encoder" / "config.json", onnx_dir / "text_encoder" / "config.json")
    shutil.copy(hf_like / "unet" / "config.json", onnx_dir / "unet" / "config.json")
    shutil.copy(hf_like / "vae" / "config.json", onnx_dir / "vae_decoder" / "config.json")
    shutil.copytree(hf_like / "tokenizer", onnx_dir / "tokenizer")
    shutil.copytree(hf_like / "scheduler", onnx_dir / "scheduler")
    mi = json.loads((hf_like / "model_index.json").read_text(encoding="utf-8"))
    for k in ("safety_checker", "feature_extractor", "image_encoder"):
        mi.pop(k, None)
    # keep the diffusers key "vae" (openvino-genai reads model_index["vae"]; the folder is vae_decoder/)
    write_json(onnx_dir / "model_index.json", mi)

    comps = {c: onnx_io(onnx_dir / c / "model.onnx") for c in ("text_encoder", "unet", "vae_decoder")}
    sched = json.loads((hf_like / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    info = {
        "pipeline": "StableDiffusionPipeline (SD 1.x layout), epsilon prediction, classifier-free guidance",
        "components": comps,
        "image_size": SD_CONFIG["image_size"],
        "unet_sample_size": lat_hw,
        "latent_channels": lat_c,
        "vae_scale_factor": 2 ** (len(SD_CONFIG["vae"]["block_out_channels"]) - 1),
        "vae_scaling_factor": SD_CONFIG["vae"]["scaling_factor"],
        "text_max_length": tok_len,
        "text_hidden_size": te_cfg["hidden_size"],
        "tokenizer": {"bos_token_id": pipe.tokenizer.bos_token_id, "eos_token_id": pipe.tokenizer.eos_token_id,
                      "pad_token_id": pipe.tokenizer.pad_token_id, "lowercase": True,
                      "files": ["tokenizer/vocab.json", "tokenizer/merges.txt"]},
        "scheduler": {k: sched[k] for k in sorted(sched) if not k.startswith("_")},
        "notes": [
            "text_encoder: input_ids int64 [batch, 77] (BOS, tokens, EOS, then EOS padding) -> "
            "last_hidden_state float32 [batch, 77, hidden] (used as encoder_hidden_states).",
            "unet: sample float32 [batch, 4, h, w] (already scaled by the scheduler), timestep int64 [1] or "
            "[batch] (the integer training timestep), encoder_hidden_states float32 [batch, 77, hidden] -> "
            "out_sample (predicted noise).",
            "vae_decoder: latent_sample = latents / vae_scaling_factor -> sample in [-1, 1]; "
            "image = clip(sample / 2 + 0.5, 0, 1).",
        ],
    }
    write_json(onnx_dir / "components.json", info)
    return info


def _strip_onnx_metadata(path: Path) -> None:
    """Drop exporter debug metadata (the dynamo exporter records source file paths of the build machine)."""
    # Lazy: onnx is part of the build toolchain.
    import onnx

    m = onnx.load(str(path))

    def clean_graph(g):
        g.doc_string = ""
        del g.metadata_props[:]
        for n in g.node:
            n.doc_string = ""
            del n.metadata_props[:]
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    clean_graph(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for sub in a.graphs:
                        clean_graph(sub)
        for v in list(g.input) + list(g.output) + list(g.value_info):
            del v.metadata_props[:]
        for t in g.initializer:
            del t.metadata_props[:]

    clean_graph(m.graph)
    for f in m.functions:
        f.doc_string = ""
        del f.metadata_props[:]
        for n in f.node:
            n.doc_string = ""
            del n.metadata_props[:]
    m.doc_string = ""
    del m.metadata_props[:]
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


def _assert_single_file(folder: Path) -> None:
    extra = [p.name for p in folder.iterdir() if p.name != "model.onnx"]
    if extra:
        raise SystemExit(f"unexpected external data in {folder}: {extra}")
