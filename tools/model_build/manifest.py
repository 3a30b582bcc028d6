"""``manifest.json`` of the bundled models: start from the existing one (so ``--only`` keeps the other
model's entry), finish it with the tool versions, write it, and summarise it in the log.
"""

from __future__ import annotations

import json
from pathlib import Path

from .common import log, tool_versions, write_json

SCHEMA_VERSION = 1


def load_manifest(manifest_path: Path) -> dict:
    """A fresh manifest that keeps the model entries of ``manifest_path`` when it exists, parses and has
    the current schema version."""
    manifest = {"schema_version": SCHEMA_VERSION, "models": {}}
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            if old.get("schema_version") == SCHEMA_VERSION:
                manifest["models"] = old.get("models", {})
        except ValueError:
            pass
    return manifest


def write_manifest(manifest_path: Path, manifest: dict) -> None:
    """Record the toolchain's versions in ``manifest`` and write it to ``manifest_path``."""
    manifest["tool_versions"] = tool_versions()
    write_json(manifest_path, manifest)


def log_summary(manifest: dict) -> None:
    """Log each model's checkpoint hash (prefix) and per-format size."""
    for mid, m in manifest["models"].items():
        sizes = ", ".join(f"{k}={v['total_bytes'] / 1e6:.2f} MB" for k, v in m["formats"].items())
        log(f"{mid}: checkpoint_sha256={m['checkpoint_sha256'][:16]}... {sizes}")
