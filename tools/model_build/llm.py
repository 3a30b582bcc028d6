"""The tiny LLM: byte-level BPE tokenizer trained on the corpus, random-init ``LlamaForCausalLM``
(``tiny-llm/hf/``), and its onnxruntime-genai, OpenVINO and standard-op ONNX exports.

The build toolchain (tokenizers, transformers, torch, safetensors) is imported inside the functions
that use it, so that importing this module (``--help``) needs none of it.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from .common import (
    CORPUS,
    SEED,
    checkpoint_sha256,
    file_sha256,
    find_bin,
    format_entry,
    fresh_dir,
    log,
    run,
    seed_everything,
    tool_versions,
    write_json,
)
from .recipes import LLM_CONFIG, LLM_TOKENIZER
from .standard_onnx import export_standard_onnx


def train_llm_tokenizer() -> Any:
    """Train the byte-level BPE (a ``tokenizers.Tokenizer``) on the corpus; it adds no BOS/EOS."""
    # Lazy: tokenizers is part of the build toolchain.
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


def save_llm_tokenizer(tok: Any, hf_dir: Path) -> None:
    """Save ``tok`` as a transformers fast tokenizer in ``hf_dir`` and check that it round-trips."""
    # Lazy: transformers is part of the build toolchain.
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
    write_json(cfg_path, cfg)
    for extra in ("chat_template.jinja",):
        (hf_dir / extra).unlink(missing_ok=True)
    # round trip: transformers must load it and add no special tokens
    from transformers import AutoTokenizer

    back = AutoTokenizer.from_pretrained(str(hf_dir))
    probe = "Call me Ishmael."
    assert back(probe).input_ids == tok.encode(probe).ids, "transformers ids differ from tokenizers ids"
    assert back(probe).input_ids[0] != 1 and back(probe).input_ids[-1] != 2, "BOS/EOS added"


def build_llm_hf(hf_dir: Path) -> None:
    """Write the seeded random-init Llama checkpoint and its tokenizer to ``hf_dir`` (recreated)."""
    # Lazy: torch / transformers are the build toolchain, not needed for `--help`.
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    fresh_dir(hf_dir)
    tok = train_llm_tokenizer()
    save_llm_tokenizer(tok, hf_dir)

    seed_everything(SEED)
    c = {k: v for k, v in LLM_CONFIG.items() if k not in ("architecture", "torch_dtype")}
    config = LlamaConfig(**c, attention_bias=False, mlp_bias=False, use_cache=True)
    config.architectures = ["LlamaForCausalLM"]
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=1, eos_token_id=2, pad_token_id=2, do_sample=False,
        max_length=LLM_CONFIG["max_position_embeddings"])
    model.save_pretrained(str(hf_dir), safe_serialization=True)


def export_llm_ort_genai(hf_dir: Path, out_dir: Path, work: Path) -> None:
    """Export ``hf_dir`` with the onnxruntime-genai model builder (fp32, CPU) and pin its runtime config."""
    fresh_dir(out_dir)
    cache = work / "ortgenai_cache"
    cache.mkdir(parents=True, exist_ok=True)
    # The builder stamps `git rev-parse HEAD` of whatever checkout holds its venv into producer_version
    # (here: this repository, so every commit changed model.onnx). GIT_DIR pointing nowhere makes it fall
    # back to the wheel's own commit, which is fixed.
    run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir), "-o", str(out_dir),
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
    write_json(cfg_path, cfg)


def export_llm_openvino(hf_dir: Path, out_dir: Path) -> None:
    """Export ``hf_dir`` with ``optimum-cli export openvino`` (fp32, with tokenizer and detokenizer)."""
    fresh_dir(out_dir)
    run([find_bin("optimum-cli"), "export", "openvino", "--model", str(hf_dir), "--task",
         "text-generation-with-past", "--weight-format", "fp32", str(out_dir)])
    for name in ("openvino_tokenizer.xml", "openvino_detokenizer.xml", "openvino_model.xml"):
        if not (out_dir / name).exists():
            raise SystemExit(f"optimum-cli did not write {out_dir / name}")


def build_tiny_llm(out: Path, work: Path) -> dict:
    """Build ``out/tiny-llm`` (hf, onnxruntime_genai, openvino) and return its manifest entry."""
    root = out / "tiny-llm"
    root.mkdir(parents=True, exist_ok=True)
    hf_dir = root / "hf"
    t0 = time.time()
    build_llm_hf(hf_dir)
    log(f"tiny-llm hf checkpoint in {time.time() - t0:.1f}s")
    t0 = time.time()
    export_llm_ort_genai(hf_dir, root / "onnxruntime_genai", work)
    log(f"tiny-llm onnxruntime_genai in {time.time() - t0:.1f}s")
    t0 = time.time()
    export_llm_openvino(hf_dir, root / "openvino")
    log(f"tiny-llm openvino in {time.time() - t0:.1f}s")
    t0 = time.time()
    standard = export_standard_onnx(hf_dir, root / "onnx")
    log(f"tiny-llm onnx (standard ops) in {time.time() - t0:.1f}s")

    n_params = count_safetensors_params(hf_dir)
    return {
        "id": "tiny-llm",
        "task": "text2text",
        "recipe": {
            "model": dict(LLM_CONFIG, num_parameters=n_params),
            "tokenizer": LLM_TOKENIZER,
            "seed": SEED,
            "tool_versions": tool_versions(),
            "init": "transformers random init (normal(0, initializer_range)) after torch.manual_seed(seed)",
            "corpus": "corpus/public_domain.txt",
            "corpus_sha256": file_sha256(CORPUS),
            "exports": {
                "onnxruntime_genai": "python -m onnxruntime_genai.models.builder -i hf -o onnxruntime_genai "
                                     "-p fp32 -e cpu -c CACHE",
                "openvino": "optimum-cli export openvino --model hf --task text-generation-with-past "
                            "--weight-format fp32 openvino",
                "onnx_decoder": f"torch.onnx.export(dynamo=True, opset_version={standard['opset']}) of hf "
                                "(tools/model_build/standard_onnx.py): standard ops only",
            },
        },
        "formats": {
            "hf": format_entry(root / "hf", out),
            "onnxruntime_genai": format_entry(root / "onnxruntime_genai", out),
            "openvino": format_entry(root / "openvino", out),
            "onnx_decoder": format_entry(root / "onnx", out),
        },
        "checkpoint_sha256": checkpoint_sha256(hf_dir),
    }


def count_safetensors_params(folder: Path) -> int:
    """Number of parameters in the ``*.safetensors`` files of ``folder``."""
    # Lazy: safetensors is part of the build toolchain.
    from safetensors import safe_open

    n = 0
    for p in sorted(folder.glob("*.safetensors")):
        with safe_open(str(p), framework="np") as f:
            for k in f.keys():  # noqa: SIM118 - safe_open is not iterable
                n += math.prod(f.get_slice(k).get_shape())
    return n
