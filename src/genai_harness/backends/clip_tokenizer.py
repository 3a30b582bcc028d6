r"""A CLIP byte-level BPE tokenizer in pure Python (vocab.json + merges.txt).

The onnxruntime text-to-image pipeline needs it because the environments it runs in hold only
onnxruntime and numpy. It implements CLIP's published scheme as its ``tokenizer.json`` states it:
NFC, whitespace runs to one space, lower case; pieces of the pattern
``<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`` (Unicode
categories from :mod:`unicodedata`, which Python's ``re`` lacks); bytes mapped to printable unicode,
BPE with a ``</w>`` word end, start and end tokens, padded to the model's maximum length.
tests/test_golden.py checks it against ``tokenizers`` reading the same tokenizer.json.
"""

from __future__ import annotations

import functools
import itertools
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path

SPECIAL = ("<|startoftext|>", "<|endoftext|>")
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def _kind(char: str) -> str:
    """'L' letter, 'N' number, ' ' whitespace, '' anything else (the pattern's classes)."""
    if char.isspace():
        return " "
    category = unicodedata.category(char)[0]
    return category if category in "LN" else ""


def words(text: str) -> Iterator[str]:
    """The pieces CLIP's pre-tokenizer pattern matches, leftmost alternative first (whitespace dropped)."""
    i, n = 0, len(text)
    while i < n:
        special = next((s for s in (*SPECIAL, *CONTRACTIONS) if text.startswith(s, i)), None)
        if special:
            yield special
            i += len(special)
            continue
        kind = _kind(text[i])
        if kind == " ":
            i += 1
            continue
        if kind == "N":
            yield text[i]
            i += 1
            continue
        j = i + 1
        while j < n and _kind(text[j]) == kind:
            j += 1
        yield text[i:j]
        i = j


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable unicode characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1)
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, codes), strict=True))


class ClipTokenizer:
    """Encode text to CLIP token ids, padded to ``max_length``."""

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]], max_length: int = 77,
                 pad_token: str = "<|endoftext|>") -> None:
        self.vocab = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.max_length = max_length
        self.bos = vocab["<|startoftext|>"]
        self.eos = vocab["<|endoftext|>"]
        self.pad = vocab.get(pad_token, self.eos)
        self._cache: dict[str, list[str]] = {}

    @classmethod
    def from_folder(cls, folder: Path) -> ClipTokenizer:
        """Read ``vocab.json``, ``merges.txt`` and (optionally) ``tokenizer_config.json``."""
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        lines = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
        merges = [tuple(line.split()) for line in lines if line and not line.startswith("#version")]
        config_file = folder / "tokenizer_config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        pad = config.get("pad_token", "<|endoftext|>")
        pad = pad.get("content", "<|endoftext|>") if isinstance(pad, dict) else pad
        max_length = int(config.get("model_max_length", 77))
        return cls(vocab, [m for m in merges if len(m) == 2], min(max_length, 77), pad)  # type: ignore[misc]

    def _bpe(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(itertools.pairwise(parts))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            parts = [*parts[:i], parts[i] + parts[i + 1], *parts[i + 2 :]]
        self._cache[word] = parts
        return parts

    def encode(self, text: str) -> list[int]:
        """Token ids without start/end tokens or padding."""
        byte_map = bytes_to_unicode()
        text = " ".join(unicodedata.normalize("NFC", text).split()).lower()
        ids: list[int] = []
        for word in words(text):
            if word in SPECIAL and word in self.vocab:  # added tokens: their own id, never split
                ids.append(self.vocab[word])
                continue
            mapped = "".join(byte_map[b] for b in word.encode("utf-8"))
            ids += [self.vocab.get(piece, self.eos) for piece in self._bpe(mapped)]
        return ids

    def __call__(self, text: str) -> list[int]:
        """Start token, ids, end token, padded/truncated to ``max_length``."""
        ids = [self.bos, *self.encode(text)[: self.max_length - 2], self.eos]
        return ids + [self.pad] * (self.max_length - len(ids))
