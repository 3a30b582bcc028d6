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
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCHEMA_VERSION = 1
SEED = 20240601

HERE = Path(__file__).resolve().parents[1] / "src" / "genai_harness" / "workloads"
CORPUS = HERE / "corpus" / "public_domain.txt"
DEFAULT_OUT = HERE / "models"

# ---------------------------------------------------------------------------------------------------
# Recipes
# ---------------------------------------------------------------------------------------------------
LLM_TOKENIZER = {
    "type": "byte-level BPE (tokenizers library), trained on corpus/public_domain.txt",
    "vocab_size": 2048,
    "min_frequency": 1,
    "special_tokens": ["<unk>", "<s>", "</s>"],
    "unk_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "adds_bos": False,
    "adds_eos": False,
}

LLM_CONFIG = {
    "architecture": "LlamaForCausalLM",
    "vocab_size": 2048,
    "hidden_size": 160,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    # onnxruntime's GroupQueryAttention (CPU) needs head_size % 16 == 0
    "num_attention_heads": 5,
    "num_key_value_heads": 5,
    "head_dim": 32,
    "max_position_embeddings": 4096,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "hidden_act": "silu",
    "initializer_range": 0.02,
    # Untied: with tied embeddings a random model's greedy argmax is the input token itself,
    # so generation degenerates into one repeated token.
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
    "torch_dtype": "float32",
}

SD_TOKENIZER = {
    "type": "CLIP BPE (vocab.json + merges.txt), merges trained on the lower-cased corpus",
    "vocab_size": 1000,
    "model_max_length": 77,
    "bos_token": "<|startoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "<|endoftext|>",
}

SD_CONFIG = {
    "pipeline": "StableDiffusionPipeline",
    "image_size": 64,
    "text_encoder": {
        "class": "CLIPTextModel",
        "vocab_size": 1000,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 5,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "layer_norm_eps": 1e-5,
        "hidden_act": "quick_gelu",
        "projection_dim": 32,
    },
    "unet": {
        "class": "UNet2DConditionModel",
        "sample_size": 32,
        "in_channels": 4,
        "out_channels": 4,
        "layers_per_block": 1,
        "block_out_channels": [32, 64],
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
        "cross_attention_dim": 32,
        "attention_head_dim": 8,
        "norm_num_groups": 32,
    },
    "vae": {
        "class": "AutoencoderKL",
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "block_out_channels": [32, 64],
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        "layers_per_block": 1,
        "norm_num_groups": 32,
        "sample_size": 64,
        "scaling_factor": 0.18215,
    },
    "scheduler": {
        "class": "EulerDiscreteScheduler",
        "num_train_timesteps": 1000,
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "prediction_type": "epsilon",
        "timestep_spacing": "leading",
        "steps_offset": 1,
        "interpolation_type": "linear",
    },
    "onnx": {"text_encoder_opset": 18, "text_encoder_exporter": "dynamo",
             "unet_opset": 17, "vae_decoder_opset": 17, "unet_vae_exporter": "torchscript (legacy)",
             "unet_timestep_dtype": "int64"},
}


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------
def _log(msg: str) -> None:
    print(f"[build_models] {msg}", flush=True)


def _sha256(path: Path) -> str:
    from genai_harness.hashing import file_sha256

    return file_sha256(path)


def _file_table(folder: Path, rel_to: Path) -> list[dict]:
    rows = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            rows.append({"path": p.relative_to(rel_to).as_posix(), "size": p.stat().st_size,
                         "sha256": _sha256(p)})
    return rows


def _checkpoint_sha256(folder: Path) -> str:
    """sha256 over sorted (relative path, file sha256) of a checkpoint folder."""
    from genai_harness.hashing import folder_sha256

    return folder_sha256(folder)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _tool_versions() -> dict:
    from importlib import metadata

    names = ["torch", "transformers", "tokenizers", "safetensors", "diffusers", "optimum", "optimum-intel",
             "onnx", "onnxscript", "onnxruntime", "onnxruntime-genai", "openvino", "openvino-tokenizers",
             "openvino-genai", "nncf", "numpy"]
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    out["python"] = sys.version.split()[0]
    return out


def _bin(name: str) -> str:
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def _run(cmd: list[str], extra_env: dict[str, str] | None = None, **kw) -> None:
    _log("$ " + " ".join(cmd))
    env = dict(os.environ, **(extra_env or {}))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    subprocess.run(cmd, check=True, env=env, **kw)


def _seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def _fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------------------------------------------
# Tiny LLM
# ---------------------------------------------------------------------------------------------------
def _train_llm_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    text = CORPUS.read_text(encoding="utf-8")
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=LLM_TOKENIZER["vocab_size"],
        min_frequency=LLM_TOKENIZER["min_frequency"],
        show_progress=False,
        special_tokens=LLM_TOKENIZER["special_tokens"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([text], trainer=trainer)
    # No BOS/EOS template: plain byte-level post-processing (offsets only).
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    assert tok.token_to_id("<unk>") == 0 and tok.token_to_id("<s>") == 1 and tok.token_to_id("</s>") == 2
    return tok


def _save_llm_tokenizer(tok, hf_dir: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="</s>",
        add_bos_token=False,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,
        model_max_length=LLM_CONFIG["max_position_embeddings"],
    )
    fast.save_pretrained(str(hf_dir))
    # transformers 5 writes tokenizer_class "TokenizersBackend", which other loaders don't know:
    # name the classic class (transformers maps it back) and make "no BOS/EOS" explicit.
    cfg_path = hf_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg["add_bos_token"] = False
    cfg["add_eos_token"] = False
    cfg["clean_up_tokenization_spaces"] = False
    cfg.pop("backend", None)
    _write_json(cfg_path, cfg)
    for extra in ("chat_template.jinja",):
        (hf_dir / extra).unlink(missing_ok=True)
    # round trip: transformers must load it and add no special tokens
    from transformers import AutoTokenizer

    back = AutoTokenizer.from_pretrained(str(hf_dir))
    probe = "Call me Ishmael."
    assert back(probe).input_ids == tok.encode(probe).ids, "transformers ids differ from tokenizers ids"
    assert back(probe).input_ids[0] != 1 and back(probe).input_ids[-1] != 2, "BOS/EOS added"


def build_llm_hf(hf_dir: Path) -> None:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    _fresh_dir(hf_dir)
    tok = _train_llm_tokenizer()
    _save_llm_tokenizer(tok, hf_dir)

    _seed_everything(SEED)
    c = {k: v for k, v in LLM_CONFIG.items() if k not in ("architecture", "torch_dtype")}
    config = LlamaConfig(**c, attention_bias=False, mlp_bias=False, use_cache=True)
    config.architectures = ["LlamaForCausalLM"]
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=1, eos_token_id=2, pad_token_id=2, do_sample=False,
        max_length=LLM_CONFIG["max_position_embeddings"])
    model.save_pretrained(str(hf_dir), safe_serialization=True)


def export_llm_ort_genai(hf_dir: Path, out_dir: Path, work: Path) -> None:
    _fresh_dir(out_dir)
    cache = work / "ortgenai_cache"
    cache.mkdir(parents=True, exist_ok=True)
    # The builder stamps `git rev-parse HEAD` of whatever checkout holds its venv into producer_version
    # (here: this repository, so every commit changed model.onnx). GIT_DIR pointing nowhere makes it fall
    # back to the wheel's own commit, which is fixed.
    _run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir), "-o", str(out_dir),
          "-p", "fp32", "-e", "cpu", "-c", str(cache)], extra_env={"GIT_DIR": str(work / "no-git")})
    cfg_path = out_dir / "genai_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    m, s = cfg["model"], cfg["search"]
    ctx = LLM_CONFIG["max_position_embeddings"]
    # Make the runtime contract explicit (the builder derives these from the HF config).
    m["bos_token_id"] = 1
    m["eos_token_id"] = 2
    m["pad_token_id"] = 2
    m["context_length"] = ctx
    s["max_length"] = ctx
    s["do_sample"] = False
    _write_json(cfg_path, cfg)


def export_llm_openvino(hf_dir: Path, out_dir: Path) -> None:
    _fresh_dir(out_dir)
    _run([_bin("optimum-cli"), "export", "openvino", "--model", str(hf_dir), "--task",
          "text-generation-with-past", "--weight-format", "fp32", str(out_dir)])
    for name in ("openvino_tokenizer.xml", "openvino_detokenizer.xml", "openvino_model.xml"):
        if not (out_dir / name).exists():
            raise SystemExit(f"optimum-cli did not write {out_dir / name}")


def build_tiny_llm(out: Path, work: Path) -> dict:
    root = out / "tiny-llm"
    root.mkdir(parents=True, exist_ok=True)
    hf_dir = root / "hf"
    t0 = time.time()
    build_llm_hf(hf_dir)
    _log(f"tiny-llm hf checkpoint in {time.time() - t0:.1f}s")
    t0 = time.time()
    export_llm_ort_genai(hf_dir, root / "onnxruntime_genai", work)
    _log(f"tiny-llm onnxruntime_genai in {time.time() - t0:.1f}s")
    t0 = time.time()
    export_llm_openvino(hf_dir, root / "openvino")
    _log(f"tiny-llm openvino in {time.time() - t0:.1f}s")

    n_params = _count_safetensors_params(hf_dir)
    return {
        "id": "tiny-llm",
        "task": "text2text",
        "recipe": {
            "model": dict(LLM_CONFIG, num_parameters=n_params),
            "tokenizer": LLM_TOKENIZER,
            "seed": SEED,
            "tool_versions": _tool_versions(),
            "init": "transformers random init (normal(0, initializer_range)) after torch.manual_seed(seed)",
            "corpus": "corpus/public_domain.txt",
            "corpus_sha256": _sha256(CORPUS),
            "exports": {
                "onnxruntime_genai": "python -m onnxruntime_genai.models.builder -i hf -o onnxruntime_genai "
                                     "-p fp32 -e cpu -c CACHE",
                "openvino": "optimum-cli export openvino --model hf --task text-generation-with-past "
                            "--weight-format fp32 openvino",
            },
        },
        "formats": {
            "hf": _format_entry(root / "hf", out),
            "onnxruntime_genai": _format_entry(root / "onnxruntime_genai", out),
            "openvino": _format_entry(root / "openvino", out),
        },
        "checkpoint_sha256": _checkpoint_sha256(hf_dir),
    }


def _count_safetensors_params(folder: Path) -> int:
    from safetensors import safe_open

    n = 0
    for p in sorted(folder.glob("*.safetensors")):
        with safe_open(str(p), framework="np") as f:
            for k in f.keys():  # noqa: SIM118 - safe_open is not iterable
                n += math.prod(f.get_slice(k).get_shape())
    return n


def _format_entry(folder: Path, out: Path) -> dict:
    files = _file_table(folder, folder)
    return {"folder": folder.relative_to(out).as_posix(), "total_bytes": sum(r["size"] for r in files),
            "files": files}


# ---------------------------------------------------------------------------------------------------
# Tiny SD
# ---------------------------------------------------------------------------------------------------
_CLIP_PAT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _bytes_to_unicode() -> dict[int, str]:
    from genai_harness.backends.clip_tokenizer import bytes_to_unicode

    return bytes_to_unicode()


def _train_clip_bpe(tok_dir: Path) -> tuple[int, int]:
    """Hand-made CLIP BPE: CLIP's vocab layout (256 byte symbols, the same with ``</w>``, one token per
    merge, then ``<|startoftext|>``, ``<|endoftext|>``); merges learned on the lower-cased corpus."""
    import regex

    text = CORPUS.read_text(encoding="utf-8").lower()
    byte_map = _bytes_to_unicode()
    counts: dict[str, int] = {}
    for w in regex.findall(_CLIP_PAT, text):
        m = "".join(byte_map[b] for b in w.encode("utf-8"))
        counts[m] = counts.get(m, 0) + 1
    base = list(byte_map.values())
    n_merges = SD_TOKENIZER["vocab_size"] - 2 * len(base) - 2
    # A small, exactly deterministic BPE trainer (the `tokenizers` trainer with end_of_word_suffix breaks
    # count ties differently from run to run): most frequent pair first, ties by the pair's strings.
    words = [([*list(w[:-1]), w[-1] + "</w>"], c) for w, c in sorted(counts.items())]
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        pairs: dict[tuple[str, str], int] = {}
        for syms, c in words:
            for i in range(len(syms) - 1):
                pairs[(syms[i], syms[i + 1])] = pairs.get((syms[i], syms[i + 1]), 0) + c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if best[1] < 2:
            break
        a, b = best[0]
        merges.append((a, b))
        for syms, _ in words:
            i = 0
            while i < len(syms) - 1:
                if syms[i] == a and syms[i + 1] == b:
                    syms[i:i + 2] = [a + b]
                i += 1
    if len(merges) < n_merges:
        raise SystemExit(f"corpus too small for {n_merges} CLIP merges ({len(merges)})")
    vocab_list = base + [c + "</w>" for c in base]
    seen = set(vocab_list)
    for a, b in merges:
        t = a + b
        if t in seen:
            raise SystemExit(f"duplicate merge product {t!r}")
        seen.add(t)
        vocab_list.append(t)
    vocab_list += [SD_TOKENIZER["bos_token"], SD_TOKENIZER["eos_token"]]
    assert len(vocab_list) == SD_TOKENIZER["vocab_size"], len(vocab_list)
    vocab = {t: i for i, t in enumerate(vocab_list)}
    tok_dir.mkdir(parents=True, exist_ok=True)
    (tok_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")
    (tok_dir / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
    return vocab[SD_TOKENIZER["bos_token"]], vocab[SD_TOKENIZER["eos_token"]]


def _make_clip_tokenizer(work: Path):
    from transformers import CLIPTokenizer

    raw = work / "clip_bpe"
    bos_id, eos_id = _train_clip_bpe(raw)
    vocab = json.loads((raw / "vocab.json").read_text(encoding="utf-8"))
    merges = [tuple(ln.split(" ")) for ln in (raw / "merges.txt").read_text(encoding="utf-8").splitlines()[1:] if ln]
    # transformers 5: CLIPTokenizer(vocab=dict, merges=list) (vocab_file/merges_file are silently ignored)
    tok = CLIPTokenizer(vocab=vocab, merges=merges,
                        bos_token=SD_TOKENIZER["bos_token"], eos_token=SD_TOKENIZER["eos_token"],
                        pad_token=SD_TOKENIZER["pad_token"], unk_token=SD_TOKENIZER["eos_token"],
                        model_max_length=SD_TOKENIZER["model_max_length"])
    assert len(tok) == SD_TOKENIZER["vocab_size"], len(tok)
    assert tok.bos_token_id == bos_id and tok.eos_token_id == eos_id, (tok.bos_token_id, tok.eos_token_id)
    probe = tok("a photo of a cat").input_ids
    assert probe[0] == bos_id and probe[-1] == eos_id and len(probe) > 3, probe
    return tok, bos_id, eos_id, raw


def build_sd_pipeline(work: Path):
    """Random-init SD-1.x-shaped pipeline (diffusers objects, in memory)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer, bos_id, eos_id, raw = _make_clip_tokenizer(work)
    _seed_everything(SEED)
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


def _onnx_io(path: Path) -> dict:
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


def export_sd_onnx(pipe, hf_like: Path, onnx_dir: Path) -> dict:
    import torch

    _fresh_dir(onnx_dir)
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

    _seed_everything(SEED)
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
    _write_json(onnx_dir / "model_index.json", mi)

    comps = {c: _onnx_io(onnx_dir / c / "model.onnx") for c in ("text_encoder", "unet", "vae_decoder")}
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
    _write_json(onnx_dir / "components.json", info)
    return info


def _strip_onnx_metadata(path: Path) -> None:
    """Drop exporter debug metadata (the dynamo exporter records source file paths of the build machine)."""
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


def build_sd_openvino(onnx_dir: Path, hf_like: Path, ov_dir: Path) -> None:
    import openvino as ov
    from openvino_tokenizers import convert_tokenizer
    from transformers import CLIPTokenizer

    _fresh_dir(ov_dir)
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
    root = out / "tiny-sd"
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pipe, raw_bpe = build_sd_pipeline(work)
    hf_tmp = work / "tiny-sd-hf"
    pipe.save_pretrained(str(hf_tmp), safe_serialization=True)
    # keep the classic slow-tokenizer files beside tokenizer.json (numpy pipelines read these)
    shutil.copy(raw_bpe / "vocab.json", hf_tmp / "tokenizer" / "vocab.json")
    shutil.copy(raw_bpe / "merges.txt", hf_tmp / "tokenizer" / "merges.txt")
    _normalize_diffusers_checkpoint(hf_tmp)
    ckpt_sha = _checkpoint_sha256(hf_tmp)
    hf_files = _file_table(hf_tmp, hf_tmp)
    hf_bytes = sum(r["size"] for r in hf_files)
    keep_hf = hf_bytes <= SD_HF_MAX_BYTES
    if (root / "hf").exists():
        shutil.rmtree(root / "hf")
    if keep_hf:
        shutil.copytree(hf_tmp, root / "hf")
    _log(f"tiny-sd checkpoint ({hf_bytes / 1e6:.2f} MB, kept={keep_hf}) in {time.time() - t0:.1f}s")
    t0 = time.time()
    info = export_sd_onnx(pipe, hf_tmp, root / "onnx")
    _log(f"tiny-sd onnx in {time.time() - t0:.1f}s")
    t0 = time.time()
    build_sd_openvino(root / "onnx", hf_tmp, root / "openvino")
    _log(f"tiny-sd openvino in {time.time() - t0:.1f}s")

    n_params = {name: sum(p.numel() for p in getattr(pipe, name).parameters())
                for name in ("text_encoder", "unet", "vae")}
    formats = {}
    if keep_hf:
        formats["hf"] = _format_entry(root / "hf", out)
    else:
        formats["hf"] = {"folder": None, "stored": False, "total_bytes": hf_bytes, "files": hf_files,
                         "note": "not bundled (size); rebuild with build_models.py --only tiny-sd"}
    formats["onnxruntime"] = _format_entry(root / "onnx", out)
    formats["openvino"] = _format_entry(root / "openvino", out)
    return {
        "id": "tiny-sd",
        "task": "text2image",
        "recipe": {
            "model": SD_CONFIG,
            "num_parameters": n_params,
            "tokenizer": SD_TOKENIZER,
            "seed": SEED,
            "tool_versions": _tool_versions(),
            "init": "diffusers / transformers random init after torch.manual_seed(seed)",
            "corpus_sha256": _sha256(CORPUS),
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


def _normalize_diffusers_checkpoint(folder: Path) -> None:
    """Drop non-deterministic or useless bits (none known so far besides empty optional components)."""
    mi_path = folder / "model_index.json"
    mi = json.loads(mi_path.read_text(encoding="utf-8"))
    _write_json(mi_path, mi)


# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
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
    manifest = {"schema_version": SCHEMA_VERSION, "models": {}}
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            if old.get("schema_version") == SCHEMA_VERSION:
                manifest["models"] = old.get("models", {})
        except ValueError:
            pass

    t_all = time.time()
    with tempfile.TemporaryDirectory(prefix="genai_harness_build_") as tmp:
        work = Path(tmp)
        if args.only in (None, "tiny-llm"):
            manifest["models"]["tiny-llm"] = build_tiny_llm(out, work)
        if args.only in (None, "tiny-sd"):
            manifest["models"]["tiny-sd"] = build_tiny_sd(out, work)
    manifest["tool_versions"] = _tool_versions()
    _write_json(manifest_path, manifest)
    _log(f"done in {time.time() - t_all:.1f}s -> {out}")
    for mid, m in manifest["models"].items():
        sizes = ", ".join(f"{k}={v['total_bytes'] / 1e6:.2f} MB" for k, v in m["formats"].items())
        _log(f"{mid}: checkpoint_sha256={m['checkpoint_sha256'][:16]}... {sizes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
