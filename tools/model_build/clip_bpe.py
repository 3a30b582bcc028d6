"""The tiny Stable Diffusion's tokenizer: a hand-made, exactly deterministic CLIP BPE trained on the
lower-cased corpus, and the transformers ``CLIPTokenizer`` made from it.

``regex`` and transformers are imported inside the functions that use them (build toolchain only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .common import CORPUS
from .recipes import SD_TOKENIZER

_CLIP_PAT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _bytes_to_unicode() -> dict[int, str]:
    from genai_harness.backends.clip_tokenizer import bytes_to_unicode

    return bytes_to_unicode()


def train_clip_bpe(tok_dir: Path) -> tuple[int, int]:
    """Hand-made CLIP BPE: CLIP's vocab layout (256 byte symbols, the same with ``</w>``, one token per
    merge, then ``<|startoftext|>``, ``<|endoftext|>``); merges learned on the lower-cased corpus.

    Writes ``vocab.json`` and ``merges.txt`` to ``tok_dir`` and returns the BOS and EOS ids."""
    # Lazy: `regex` (\p{L} classes) comes with the build toolchain.
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


def make_clip_tokenizer(work: Path) -> tuple[Any, int, int, Path]:
    """Train the CLIP BPE under ``work/clip_bpe`` and wrap it in a checked ``CLIPTokenizer``.

    Returns the tokenizer, its BOS and EOS ids, and the folder holding ``vocab.json`` / ``merges.txt``."""
    # Lazy: transformers is part of the build toolchain.
    from transformers import CLIPTokenizer

    raw = work / "clip_bpe"
    bos_id, eos_id = train_clip_bpe(raw)
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
