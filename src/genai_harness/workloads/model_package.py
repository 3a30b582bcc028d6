"""ONNX Runtime model packages (onnxruntime-genai's ``docs/model_package.md``): a folder with ``manifest.json`` whose
component ``model`` declares build variants, each with its execution provider, device and compatibility string, and
a folder of its own holding a complete ``genai_config.json``. The runtime picks a variant by declared compatibility;
the harness reads the declaration here (files only, no runtime) so it can be compared with the measured choice.

Format, as documented::

    {"schema_version": "1.0",
     "components": {"model": {"variants": {
         "NAME": {"ep": "OpenVINOExecutionProvider", "device": "npu", "compatibility_string": "...",
                  "variant_directory": "optional, default NAME"}}}}}

A folder is a package when it has ``manifest.json`` and no top-level ``genai_config.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from genai_harness.atomic import write_text
from genai_harness.errors import ModelError

MANIFEST = "manifest.json"
COMPONENT = "model"
"""The one component onnxruntime-genai loads from a package."""
MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class PackageVariant:
    """One declared variant: its name, execution provider, device, compatibility string and folder."""

    name: str
    ep: str
    device: str
    compatibility_string: str
    folder: Path


def is_model_package(path: Path) -> bool:
    """Whether ``path`` is a model package folder (``manifest.json`` and no top-level ``genai_config.json``)."""
    return path.is_dir() and (path / MANIFEST).is_file() and not (path / "genai_config.json").exists()


def _confined(root: Path, relative: str, name: str) -> Path:
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or not relative:
        raise ModelError(f"model package {root}: variant {name!r} has variant_directory {relative!r}, which leaves "
                         "the package; give a folder inside it")
    return root / relative


def read_package(root: Path) -> list[PackageVariant]:
    """The variants ``root/manifest.json`` declares, in declared order; a broken package is one :class:`ModelError`
    line naming the file and the fix."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise ModelError(f"{root} is no model package: it has no {MANIFEST}; write one with `genai-harness models "
                         "package FAMILY --out DIR`")
    if manifest.stat().st_size > MAX_MANIFEST_BYTES:
        raise ModelError(f"{manifest} is over {MAX_MANIFEST_BYTES >> 20} MiB; a manifest is a few lines of JSON")
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{manifest} is not JSON ({exc}); fix or rewrite it") from None
    component = (document.get("components") or {}).get(COMPONENT) if isinstance(document, dict) else None
    variants = component.get("variants") if isinstance(component, dict) else None
    if not isinstance(variants, dict) or not variants:
        raise ModelError(f"{manifest} declares no variants under components.{COMPONENT}.variants; onnxruntime-genai "
                         "loads only that component")
    out = []
    for name, spec in variants.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("ep"), str):
            raise ModelError(f"{manifest}: variant {name!r} names no execution provider (\"ep\"); declare one, e.g. "
                             "\"CPUExecutionProvider\"")
        folder = _confined(root, str(spec.get("variant_directory") or name), name)
        if not (folder / "genai_config.json").is_file():
            raise ModelError(f"model package {root}: variant {name!r} has no genai_config.json in {folder}; every "
                             "variant folder must hold a complete onnxruntime-genai model")
        out.append(PackageVariant(str(name), spec["ep"], str(spec.get("device") or ""),
                                  str(spec.get("compatibility_string") or ""), folder))
    return out


def write_package(dest: Path, variants: Sequence[tuple[str, Path, str, str, str]]) -> Path:
    """Write a model package at ``dest`` from (name, model folder, ep, device, compatibility string) in the order
    given (the order is the declaration: an EP without a compatibility validator takes the first).

    Each variant folder is made of symbolic links to the model folder's files (no copy of the weights); onnxruntime
    accepts linked files but not a linked variant folder. ``dest`` must not exist or be empty.
    """
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ModelError(f"{dest} exists and is not an empty folder; give a new folder for the package")
    seen = set()
    for name, folder, _ep, _device, _compat in variants:
        if name in seen or "/" in name or name.startswith("."):
            raise ModelError(f"variant name {name!r} is repeated or not a plain folder name")
        seen.add(name)
        if not (folder / "genai_config.json").is_file():
            raise ModelError(f"{folder} has no genai_config.json: only onnxruntime-genai model folders make a package")
    dest.mkdir(parents=True, exist_ok=True)
    declared = {}
    for name, folder, ep, device, compat in variants:
        (dest / name).mkdir()
        for item in sorted(folder.iterdir()):
            os.symlink(item.absolute(), dest / name / item.name)
        declared[name] = {"ep": ep, "device": device, "compatibility_string": compat}
    manifest = {"schema_version": "1.0", "components": {COMPONENT: {"variants": declared}}}
    write_text(dest / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return dest
