"""The decision cache: a decision taken from one exact store file and arguments is remembered, so an app's next
start with unchanged evidence skips the store read and the ranking."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from genai_harness.atomic import write_text
from genai_harness.dispatch.decision import Constraints, Decision, decision_from_dict
from genai_harness.results.store import parse_store


def cache_file(task: str, model: str, objective: str, store: str | Path | None, constraints: Constraints | None,
                config: str | Path | None, options: dict[str, Any]) -> Path | None:
    """Where the decision for these arguments and this exact store file is remembered (None: no store yet, or a
    database URL, whose changes no file's size and time tell)."""
    path = parse_store(store)
    if isinstance(path, str):
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    key = json.dumps([task, model, objective, str(path.resolve()), stat.st_mtime_ns, stat.st_size,
                      repr(constraints), str(config), sorted(options.items()), sys.executable], default=str)
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genai-harness" / "decisions"
    return folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")


def remembered(cache: Path | None) -> tuple[Decision, dict[str, str]] | None:
    """A decision taken earlier from the same store file and arguments, with the model paths it used."""
    if cache is None or not cache.is_file():
        return None
    try:
        data = json.loads(cache.read_text())
        return decision_from_dict(data["decision"]), dict(data["paths"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember(cache: Path | None, decision: Decision, paths: dict[str, str]) -> None:
    """Keep ``decision`` and the model paths it used for the next start (a static decision is never kept)."""
    if cache is None or decision.static:
        return
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs the next start a re-decision
        write_text(cache, json.dumps({"decision": decision.to_dict(), "paths": paths}, default=str))
