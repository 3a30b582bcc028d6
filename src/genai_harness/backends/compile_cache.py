"""Compiled-model caches: where a target keeps what it compiled, and what lies there (no runtime imported).

A target that compiles its model for the device (OpenVINO's plugins through openvino-genai and openvino; an
onnxruntime EP with a cache option, such as the OpenVINO EP's ``cache_dir``, or one that writes EPContext models)
keeps the result in a folder of its own: ``<root>/<runtime and version>/<device and driver>/<model>``. A cache
written by another runtime version, device or driver therefore lies in another folder and is never reused
silently. A backend says how its target caches (:class:`CacheIdentity`, from
:meth:`~genai_harness.backends.base.Backend.compile_cache`); the worker puts the folder into the device config
under :data:`CACHE_DIR_KEY`, where the pipelines read it.

An onnxruntime EP caches only where its Device config says how (:data:`CACHE_MECHANISM_KEY`):
``{"provider_option": "cache_dir"}`` (the option that takes the folder) or ``{"epcontext": true}`` (session
options ``ep.context_enable``/``ep.context_file_path``: the EP writes a compiled EPContext model, loaded instead of
the original while it exists). A plugin EP target sets the same key in its Device config to be measured alike.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_harness.cache_home import harness_cache

CACHE_DIR_KEY = "compile_cache_dir"
"""Device config key: the cache folder a pipeline points its runtime at (absent: no cache)."""
CACHE_MECHANISM_KEY = "compile_cache"
"""Device config key of an onnxruntime EP target: how it caches (see the module docstring); absent: it does not."""
PROVIDER_OPTION = "provider_option"
EPCONTEXT = "epcontext"
EPCONTEXT_FILE = "model_ctx.onnx"
"""The EPContext model an EP writes into the cache folder (its compiled parts lie beside it)."""
SCRATCH_PREFIX = ".empty-cache-"
"""A scratch cache folder (the empty-cache load of a cell whose own load found the cache warm) starts so."""
_SLUG_LIMIT = 80

Snapshot = dict[str, tuple[int, int, int]]
"""A folder's files: relative path -> (inode, modification time in ns, size in bytes)."""


@dataclass(frozen=True)
class CacheIdentity:
    """What a compiled cache depends on: runtime and version, device, driver, and how the runtime is told."""

    runtime: str
    device: str
    driver: str
    mechanism: str

    def key(self) -> str:
        """The folder of this runtime, device and driver under the cache root (two path parts)."""
        device = f"{self.device} driver {self.driver}" if self.driver else self.device
        return f"{slug(self.runtime)}/{slug(device)}"

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"runtime": self.runtime, "device": self.device, "driver": self.driver, "mechanism": self.mechanism}


def default_root() -> Path:
    """Where compiled-model caches live by default: ``compiled`` in the harness's cache."""
    return harness_cache() / "compiled"


def slug(text: str) -> str:
    """``text`` as one safe path part: letters, digits, ``.-_``; a long one is cut and keeps a digest (pure)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"
    if len(cleaned) <= _SLUG_LIMIT:
        return cleaned
    return f"{cleaned[:_SLUG_LIMIT - 11]}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def model_key(model_path: Path, model_id: str = "", precision: str = "default", threads: int | None = None) -> str:
    """The folder of one model (and the numerics it is compiled for) under a device's folder (pure)."""
    where = hashlib.sha256(f"{Path(model_path).resolve()}|{precision}|{threads}".encode()).hexdigest()[:12]
    return f"{slug(model_id or Path(model_path).name)}-{where}"


def describe_mechanism(mechanism: Mapping[str, Any]) -> str:
    """``provider option cache_dir`` or ``EPContext model`` (pure)."""
    if mechanism.get(PROVIDER_OPTION):
        return f"provider option {mechanism[PROVIDER_OPTION]}"
    return "EPContext model (ep.context_enable)"


def snapshot(folder: Path) -> Snapshot:
    """Every file under ``folder`` with its inode, modification time and size ({} for a missing folder)."""
    found: Snapshot = {}
    if not folder.is_dir():
        return found
    for path in folder.rglob("*"):
        try:
            info = path.stat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found[str(path.relative_to(folder))] = (info.st_ino, info.st_mtime_ns, info.st_size)
    return found


def size_mib(files: Snapshot) -> float:
    """The size of a snapshot's files in MiB (pure)."""
    return sum(size for _ino, _mtime, size in files.values()) / 2**20


def read_from_cache(before: Snapshot, after: Snapshot) -> bool:
    """Whether a load read its compiled model from the cache, judged from the folder alone (pure): the cache held
    files and the load wrote none (a runtime that finds its blob imports it; one that does not, or cannot read it,
    compiles and writes the blob again)."""
    return bool(before) and after == before


def unusable_reason(folder: Path, root: Path | None = None) -> str:
    """Why ``folder`` cannot serve as a cache ("" when it can): it, or a folder between it and ``root``, is
    read-only (no write permission: for root too, since a folder made read-only is meant so), it cannot be created
    or is not a folder, or a file cannot be written in it."""
    above = [root, *(p for p in folder.parents if root is not None and p.is_relative_to(root) and p != root)]
    for path in [p for p in (*above, folder) if p is not None]:
        if path.is_dir() and not _writable(path):
            return f"{path} is read-only"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{folder} cannot be created ({exc.strerror or exc})"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"a file cannot be written in {folder} ({exc.strerror or exc})"
    return ""


def _writable(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, os.W_OK)


def empty(folder: Path) -> None:
    """Remove everything inside ``folder`` (kept itself): the start of an empty-cache load."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
