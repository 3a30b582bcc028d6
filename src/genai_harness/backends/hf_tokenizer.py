"""A model folder's Hugging Face tokenizer (``tokenizer.json``) and chat template, without transformers.

Encoding is the ``tokenizers`` library's (the same Rust code transformers runs), with no special tokens added,
as every backend of the harness encodes. Decoding of a byte-level BPE goes through
:class:`~genai_harness.backends.byte_level.ByteLevelDecoder`, so a text never depends on the runtime. The chat
template (``chat_template.jinja`` or ``tokenizer_config.json``'s ``chat_template``) is rendered with jinja2 in a
sandbox, with the options transformers uses (``trim_blocks``, ``lstrip_blocks``, ``raise_exception``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genai_harness.backends.byte_level import ByteLevelDecoder
from genai_harness.errors import ModelError


class HfTokenizer:
    """Encode, decode and chat-template one model folder's ``tokenizer.json``."""

    def __init__(self, folder: Path) -> None:
        # lazy: tokenizers is needed only when a plain-onnxruntime text pipeline is built
        from tokenizers import Tokenizer

        path = folder / "tokenizer.json"
        if not path.is_file():
            raise ModelError(f"{folder} has no tokenizer.json; copy the model's tokenizer.json beside its .onnx file")
        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:
            raise ModelError(f"{path} is not a tokenizer the tokenizers library reads: {exc}") from None
        self._byte_level = ByteLevelDecoder.from_folder(folder)
        self._config = self._read_config(folder)
        self.chat_template = self._read_template(folder, self._config)

    @staticmethod
    def _read_config(folder: Path) -> dict[str, Any]:
        path = folder / "tokenizer_config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path} is not readable JSON: {exc}") from None
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _read_template(folder: Path, config: dict[str, Any]) -> str:
        jinja_file = folder / "chat_template.jinja"
        if jinja_file.is_file():
            return jinja_file.read_text(encoding="utf-8")
        template = config.get("chat_template")
        if isinstance(template, list):  # named templates: the default one
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default")
        return template if isinstance(template, str) else ""

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``, no special tokens added."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, token_ids: Sequence[int]) -> str:
        """The text of ``token_ids``, special tokens skipped."""
        if self._byte_level is not None:
            return self._byte_level.decode(token_ids)
        return str(self._tokenizer.decode([int(t) for t in token_ids], skip_special_tokens=True))

    def token_text(self, key: str) -> str:
        """A special token named in tokenizer_config.json (``bos_token`` ...), as text ('' where none)."""
        value = self._config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        return value if isinstance(value, str) else ""

    def apply_chat_template(self, text: str) -> str | None:
        """``text`` as one user message, the assistant's turn opened; None where the model has no template."""
        if not self.chat_template:
            return None
        # lazy: jinja2 renders chat templates only (a prompt sent raw needs none)
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        try:
            return env.from_string(self.chat_template).render(
                messages=[{"role": "user", "content": text}], add_generation_prompt=True,
                bos_token=self.token_text("bos_token"), eos_token=self.token_text("eos_token"))
        except Exception as exc:
            raise ModelError(f"the model's chat template cannot be rendered: {exc}; run with --raw to send the "
                             "prompt as it is") from None
