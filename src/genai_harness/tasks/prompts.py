"""Prompts of an exact token count, cut from the bundled public-domain corpus.

The cut is made with the model's own tokenizer: the longest corpus prefix (repeated if the
corpus is too short) whose encoding has exactly the requested number of tokens. The prompt is
text, so the timed generate call includes its tokenization, as the TTFT definition requires.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genai_harness.errors import WorkloadError

CORPUS_FILE = Path(__file__).resolve().parents[1] / "workloads" / "corpus" / "public_domain.txt"
"""The corpus is data of the workloads room; the cut belongs to the text task."""

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "workloads" / "prompts"
"""Prompt files written for the shipped workloads (``[input] prompt_file``), relative to this folder."""
MAX_PROMPT_BYTES = 1024 * 1024

Encoder = Callable[[str], list[int]]


def prompt_file_path(name: str) -> Path:
    """The prompt file a workload names: under the shipped prompts folder, else a path; WorkloadError if neither."""
    for path in (PROMPTS_DIR / name, Path(name).expanduser()):
        if path.is_file():
            return path
    raise WorkloadError(f"prompt_file {name!r} is neither a shipped prompt ({PROMPTS_DIR}) nor a file; fix the name")


def read_prompt_file(name: str) -> str:
    """The text of a prompt file (UTF-8, at most 1 MiB), trailing whitespace removed."""
    path = prompt_file_path(name)
    if path.stat().st_size > MAX_PROMPT_BYTES:
        raise WorkloadError(f"prompt_file {path} is larger than {MAX_PROMPT_BYTES // 1024} KiB")
    try:
        return path.read_text(encoding="utf-8").rstrip()
    except UnicodeDecodeError:
        raise WorkloadError(f"prompt_file {path} is not UTF-8 text; save it as UTF-8") from None


def corpus_text() -> str:
    """The bundled corpus without its section headers."""
    lines = CORPUS_FILE.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("=== ")).strip()


def prompt_with_tokens(encode: Encoder, n_tokens: int, corpus: str | None = None) -> str:
    """Text whose encoding by ``encode`` is exactly ``n_tokens`` tokens long."""
    if n_tokens < 1:
        raise WorkloadError(f"prompt_tokens must be at least 1, got {n_tokens}")
    base = corpus if corpus is not None else corpus_text()
    text = base
    while len(encode(text)) < n_tokens + 1:
        text = text + "\n\n" + base
    # Bisect on characters for the longest prefix with at most n_tokens tokens.
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if len(encode(text[:mid])) <= n_tokens:
            low = mid
        else:
            high = mid - 1
    # Token counts are not strictly monotone in characters; walk to an exact match nearby.
    for end in range(low, max(0, low - 64), -1):
        candidate = text[:end]
        if len(encode(candidate)) == n_tokens:
            return candidate
    for end in range(low + 1, min(len(text), low + 64)):
        candidate = text[:end]
        if len(encode(candidate)) == n_tokens:
            return candidate
    raise WorkloadError(f"cannot cut a prompt of exactly {n_tokens} tokens from the corpus with this tokenizer")
