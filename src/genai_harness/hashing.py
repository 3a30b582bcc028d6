"""Content hashes of model files (standard library only, so the build script can use it too)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_sha256(folder: Path) -> str:
    """Hex sha256 over the sorted ``relative path\\0file sha256\\n`` lines of every file under ``folder``.

    The ``checkpoint_sha256`` of the bundled models' manifest (stable across rebuilds).
    """
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*"), key=lambda q: q.relative_to(folder).as_posix()):
        if path.is_file():
            rel = path.relative_to(folder).as_posix()
            digest.update(rel.encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return digest.hexdigest()
