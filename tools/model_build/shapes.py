"""Models with a real architecture's shape and seeded random weights (speed only): the configuration of the
published model, random init, and a byte-level BPE tokenizer trained on the corpus, its vocabulary padded with
never-produced entries to the model's vocabulary size so that every id the random model emits decodes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .common import SEED, fresh_dir, log, seed_everything, write_json

SHAPES: dict[str, dict[str, Any]] = {
    "qwen2.5-0.5b-shape": {
        "architecture": "Qwen2ForCausalLM", "published": "Qwen/Qwen2.5-0.5B-Instruct",
        "config": {"vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                   "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 32768,
                   "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
                   "hidden_act": "silu", "initializer_range": 0.02, "bos_token_id": 1, "eos_token_id": 2},
    },
    "smollm2-360m-shape": {
        "architecture": "LlamaForCausalLM", "published": "HuggingFaceTB/SmolLM2-360M-Instruct",
        "config": {"vocab_size": 49152, "hidden_size": 960, "intermediate_size": 2560, "num_hidden_layers": 32,
                   "num_attention_heads": 15, "num_key_value_heads": 5, "max_position_embeddings": 8192,
                   "rope_theta": 100000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": True,
                   "hidden_act": "silu", "initializer_range": 0.02, "bos_token_id": 1, "eos_token_id": 2},
    },
}


def padded_tokenizer(hf_dir: Path, vocab_size: int, max_length: int) -> None:
    """The corpus BPE (2048 entries) padded to ``vocab_size`` with ``<pad_N>`` entries no merge produces."""
    # Lazy: tokenizers / transformers are the build toolchain.
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from .llm import train_llm_tokenizer

    doc = json.loads(train_llm_tokenizer().to_str())
    vocab = doc["model"]["vocab"]
    n = 0
    while len(vocab) < vocab_size:
        name = f"<pad_{n}>"
        n += 1
        if name not in vocab:
            vocab[name] = len(vocab)
    tok = Tokenizer.from_str(json.dumps(doc))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="</s>", add_bos_token=False, add_eos_token=False,
                                   clean_up_tokenization_spaces=False, model_max_length=max_length)
    fast.save_pretrained(str(hf_dir))
    cfg_path = hf_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg.update(tokenizer_class="PreTrainedTokenizerFast", add_bos_token=False, add_eos_token=False,
               clean_up_tokenization_spaces=False)
    cfg.pop("backend", None)
    write_json(cfg_path, cfg)
    (hf_dir / "chat_template.jinja").unlink(missing_ok=True)


def build_checkpoint(model_id: str, hf_dir: Path) -> tuple[Any, dict]:
    """Write the seeded random-init checkpoint of ``model_id``'s shape to ``hf_dir``; the model and its recipe."""
    # Lazy: torch / transformers are the build toolchain.
    import torch
    import transformers
    from transformers import GenerationConfig

    shape = SHAPES[model_id]
    fresh_dir(hf_dir)
    cfg = dict(shape["config"])
    padded_tokenizer(hf_dir, cfg["vocab_size"], cfg["max_position_embeddings"])
    seed_everything(SEED)
    arch = shape["architecture"]
    config_cls = getattr(transformers, arch.replace("ForCausalLM", "Config"))
    config = config_cls(**cfg, use_cache=True)
    config.architectures = [arch]
    log(f"{model_id}: random init of {arch} (seed {SEED})")
    model = getattr(transformers, arch)(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2, do_sample=False)
    model.save_pretrained(str(hf_dir), safe_serialization=True)
    n_params = sum(p.numel() for p in model.parameters())
    torch.use_deterministic_algorithms(False)
    return model, {"architecture": arch, "shape_of": shape["published"], "config": cfg, "seed": SEED,
                   "num_parameters": int(n_params), "weights": "random weights: speed only"}
