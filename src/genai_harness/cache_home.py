"""Where the harness keeps what it can build or probe again: ``$GENAI_HARNESS_CACHE``, else
``$XDG_CACHE_HOME/genai-harness``, else ``~/.cache/genai-harness`` (built models in ``models``, compiled-model caches
in ``compiled``, the CPU probe in ``host``)."""

from __future__ import annotations

import os
from pathlib import Path


def harness_cache() -> Path:
    """The harness's cache folder (see the module docstring); nothing is created."""
    base = os.environ.get("GENAI_HARNESS_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genai-harness")
    return Path(base).expanduser()
