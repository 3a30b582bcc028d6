"""Shared helpers of the model builders: paths, seed, logging, hashing and file tables, subprocesses,
tool versions and JSON writing.

Only the standard library is imported at module level; numpy / torch (``seed_everything``) and
``genai_harness.hashing`` are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SEED = 20240601

# tools/model_build/common.py -> repository root is parents[2]
HERE = Path(__file__).resolve().parents[2] / "src" / "genai_harness" / "workloads"
CORPUS = HERE / "corpus" / "public_domain.txt"
DEFAULT_OUT = HERE / "models"


def log(msg: str) -> None:
    """Print one progress line with the tool's prefix."""
    print(f"[build_models] {msg}", flush=True)


def file_sha256(path: Path) -> str:
    """sha256 hex digest of one file (the harness's own implementation)."""
    from genai_harness.hashing import file_sha256 as _file_sha256

    return _file_sha256(path)


def file_table(folder: Path, rel_to: Path) -> list[dict]:
    """Every file under ``folder`` (sorted) as ``{path (relative to rel_to), size, sha256}``."""
    rows = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            rows.append({"path": p.relative_to(rel_to).as_posix(), "size": p.stat().st_size,
                         "sha256": file_sha256(p)})
    return rows


def format_entry(folder: Path, out: Path) -> dict:
    """The manifest entry of one format folder: folder (relative to ``out``), total bytes and file table."""
    files = file_table(folder, folder)
    return {"folder": folder.relative_to(out).as_posix(), "total_bytes": sum(r["size"] for r in files),
            "files": files}


def checkpoint_sha256(folder: Path) -> str:
    """sha256 over sorted (relative path, file sha256) of a checkpoint folder."""
    from genai_harness.hashing import folder_sha256

    return folder_sha256(folder)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON with a trailing newline."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def tool_versions() -> dict:
    """Installed versions of the build toolchain (``None`` where absent) and of Python."""
    from importlib import metadata

    names = ["torch", "transformers", "tokenizers", "safetensors", "diffusers", "optimum", "optimum-intel",
             "onnx", "onnxscript", "onnxruntime", "onnxruntime-genai", "openvino", "openvino-tokenizers",
             "openvino-genai", "nncf", "numpy"]
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    out["python"] = sys.version.split()[0]
    return out


def find_bin(name: str) -> str:
    """Path of the console script ``name``: next to this interpreter first, else on PATH."""
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def run(cmd: list[str], extra_env: dict[str, str] | None = None, **kw: Any) -> None:
    """Log and run ``cmd`` (checked), offline: the Hugging Face offline switches default to on."""
    log("$ " + " ".join(cmd))
    env = dict(os.environ, **(extra_env or {}))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    subprocess.run(cmd, check=True, env=env, **kw)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch, and make torch deterministic."""
    # Lazy: numpy / torch belong to the build toolchain, which `--help` must not need.
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def fresh_dir(path: Path) -> Path:
    """Remove ``path`` if it exists and create it empty."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
