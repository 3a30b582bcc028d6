"""Token ids to text as Hugging Face ``tokenizers`` decodes a byte-level BPE (GPT-2, Llama 3, Qwen, SmolLM ...).

onnxruntime-genai's ``Tokenizer.decode`` stops at the first invalid UTF-8 sequence and its streaming decoder drops
the characters that follow one; random weights, and real models cut short, emit lone byte tokens. Hugging Face
(and openvino-tokenizers, whose text equals it) join the tokens' bytes and decode them lossily, one U+FFFD per
invalid sequence. :class:`ByteLevelDecoder` does the same from the model folder's ``tokenizer.json``, so a text
never depends on the runtime that produced its ids. Special tokens are skipped (``skip_special_tokens=True``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def byte_of_char() -> dict[str, int]:
    """GPT-2's ``bytes_to_unicode`` inverted: the printable character that stands for each byte -> the byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[chr(byte)] = byte
        else:
            chars[chr(256 + extra)] = byte
            extra += 1
    return chars


def _is_byte_level(decoder: object) -> bool:
    """A ``tokenizer.json`` decoder that is ByteLevel (alone or as the only step of a Sequence)."""
    if not isinstance(decoder, dict):
        return False
    if decoder.get("type") == "ByteLevel":
        return True
    steps = decoder.get("decoders") if decoder.get("type") == "Sequence" else None
    return isinstance(steps, list) and len(steps) == 1 and _is_byte_level(steps[0])


class ByteLevelDecoder:
    """Decodes ids of one byte-level BPE vocabulary exactly as Hugging Face ``tokenizers`` does."""

    def __init__(self, tokens: dict[int, str], special: set[int]) -> None:
        self._tokens = tokens
        self._special = special

    @classmethod
    def from_folder(cls, folder: Path) -> ByteLevelDecoder | None:
        """The decoder of ``folder/tokenizer.json``, or None where it is no byte-level BPE (or unreadable)."""
        try:
            data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        model = data.get("model") if isinstance(data, dict) else None
        if not isinstance(model, dict) or model.get("type") != "BPE" or not _is_byte_level(data.get("decoder")):
            return None
        vocab = model.get("vocab")
        if not isinstance(vocab, dict):
            return None
        tokens = {int(i): str(t) for t, i in vocab.items() if isinstance(i, int)}
        special = set()
        for added in data.get("added_tokens") or []:
            if isinstance(added, dict) and isinstance(added.get("id"), int):
                tokens[added["id"]] = str(added.get("content", ""))
                if added.get("special"):
                    special.add(added["id"])
        return cls(tokens, special)

    def decode(self, token_ids: Sequence[int]) -> str:
        """The text of ``token_ids``: each token's bytes joined, decoded with one U+FFFD per invalid sequence."""
        chars = byte_of_char()
        data = bytearray()
        for token_id in token_ids:
            if token_id in self._special:
                continue
            token = self._tokens.get(int(token_id))
            if token is None:
                continue  # an id beyond the vocabulary decodes to nothing, as in Hugging Face
            mapped = [chars.get(c) for c in token]
            data += bytes(mapped) if None not in mapped else token.encode("utf-8")  # type: ignore[arg-type]
        return data.decode("utf-8", errors="replace")
