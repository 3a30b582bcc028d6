"""Where the harness keeps what it can build or probe again: ``$GENAI_HARNESS_CACHE``, else
``$XDG_CACHE_HOME/genai-harness``, else ``~/.cache/genai-harness`` (built models in ``models``, compiled-model caches
in ``compiled``, the CPU probe in ``host``, ONNX files' op censuses in ``census``); and the one way a small answer
is remembered there (:func:`remembered_json`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from genai_harness.atomic import atomic_output

T = TypeVar("T")


def harness_cache() -> Path:
    """The harness's cache folder (see the module docstring); nothing is created."""
    base = os.environ.get("GENAI_HARNESS_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genai-harness")
    return Path(base).expanduser()


def remembered_json(path: Path, valid: Callable[[Any], bool], compute: Callable[[], T]) -> T:
    """The JSON answer kept at ``path`` when it reads back and is ``valid``; else ``compute()``, written there whole
    (:func:`~genai_harness.atomic.atomic_output`) for next time. An answer that cannot be read, is of another shape
    or cannot be written (a read-only cache) is computed again; what ``compute`` raises is raised, nothing kept."""
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = None
    if kept is not None and valid(kept):
        return kept
    answer = compute()
    try:
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(answer))
    except OSError:
        pass
    return answer
