"""What made a model's files: exporter and version, export time, size and op census, for every row of its cells.

A model built by ``models build`` has them in its ``build_manifest.json`` (two folders up: ``FAMILY/VARIANT/FORMAT``);
any other model gets its size, its census counted from its files, and the producer its ONNX file names
(``producer_name``/``producer_version``) or its IR's ``rt_info`` records. Exports the build recorded as failed
(:func:`failed_exports`) become failed cells of the exports suite, in the exporter's own words.
"""

from __future__ import annotations

import functools
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_harness.errors import ModelError
from genai_harness.workloads.buildable import BUILD_MANIFEST
from genai_harness.workloads.op_census import Census, census_totals, model_census, onnx_producer

BUILT_EXPORTERS = {"onnxruntime_genai.models.builder": ("onnxruntime-genai builder", "onnxruntime-genai"),
                   "optimum-cli (optimum-intel)": ("optimum-intel", "optimum-intel")}
"""Manifest ``export.tool`` of the core exports -> (exporter, the package whose version is the exporter's)."""


@dataclass(frozen=True)
class ExportInfo:
    """An export's provenance and shape; None where it cannot be known."""

    exporter: str | None = None
    exporter_version: str | None = None
    export_s: float | None = None
    model_bytes: int | None = None
    census: Census | None = None

    def columns(self) -> dict[str, Any]:
        """The result-row columns (schema 6's export block)."""
        standard, contrib = census_totals(self.census) if self.census is not None else (None, None)
        return {"exporter": self.exporter, "exporter_version": self.exporter_version, "export_s": self.export_s,
                "model_bytes": self.model_bytes, "ops_standard": standard, "ops_contrib": contrib,
                "op_census": json.dumps(self.census, sort_keys=True) if self.census is not None else None}


def manifest_of(path: Path) -> tuple[dict, str] | None:
    """(build manifest, this format folder relative to the build) of a model built by ``models build``."""
    path = path.expanduser().absolute()
    build = path.parent.parent
    manifest_path = build / BUILD_MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (manifest, str(path.relative_to(build))) if isinstance(manifest, dict) else None


def exporter_of(entry: dict, tool_versions: dict) -> tuple[str | None, str | None]:
    """(exporter, version) of a manifest format entry (pure)."""
    export = entry.get("export", {})
    if export.get("exporter"):
        profile = f" ({export['profile']})" if export.get("profile") else ""
        return f"{export['exporter']}{profile}", export.get("exporter_version")
    name, package = BUILT_EXPORTERS.get(export.get("tool", ""), (export.get("tool"), None))
    return name, tool_versions.get(package) if package else None


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _recorded(path: Path) -> tuple[str | None, str | None] | None:
    """(exporter, version) an ``export.json`` beside the model records (the bundled standard-op export's)."""
    record = path / "export.json" if path.is_dir() else path.parent / "export.json"
    if not record.is_file():
        return None
    data = json.loads(record.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data.get("exporter"):
        return None
    version = data.get("exporter_version") or data.get("torch")
    return str(data["exporter"]), str(version) if version else None


def _producer(path: Path) -> tuple[str | None, str | None]:
    """(producer, version) an ONNX file or OpenVINO IR records about what wrote it."""
    onnx_file = path if path.suffix == ".onnx" else path / "model.onnx"
    if onnx_file.is_file():
        return onnx_producer(onnx_file)  # read with its census, remembered per file state
    xml = path if path.suffix == ".xml" else path / "openvino_model.xml"
    if xml.is_file():
        try:
            info = ET.parse(xml).getroot().find("rt_info")
        except ET.ParseError:
            return None, None
        for key in ("optimum", "conversion_parameters"):
            node = info.find(key) if info is not None else None
            if node is not None:
                version = next((c.get("value") for c in node if c.tag in ("optimum_intel_version", "framework")), None)
                return ("optimum-intel" if key == "optimum" else "openvino (ovc)"), version
        return "openvino", None
    return None, None


@functools.lru_cache(maxsize=64)
def _cached(path_text: str, mtime: float) -> ExportInfo:
    path = Path(path_text)
    found = manifest_of(path)
    entry = None
    if found is not None:
        manifest, rel = found
        entry = next((e for formats in manifest.get("variants", {}).values() for e in formats.values()
                      if e.get("folder") == rel), None)
    try:
        census = (entry or {}).get("op_census") or model_census(path)
    except ModelError:
        census = None
    if entry is not None:
        exporter, version = exporter_of(entry, manifest.get("tool_versions", {}))
        return ExportInfo(exporter, version, entry.get("seconds"), entry.get("total_bytes") or _size(path), census)
    try:
        exporter, version = _recorded(path) or _producer(path)
    except Exception:  # an unreadable file: the cell's own load reports it
        exporter, version = None, None
    return ExportInfo(exporter, version, None, _size(path) if path.exists() else None, census)


def export_info(path: Path) -> ExportInfo:
    """What made the model at ``path`` (cached per path and modification time)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return ExportInfo()
    return _cached(str(path.expanduser().absolute()), mtime)


def failed_exports(build: Path) -> list[dict[str, Any]]:
    """The exports a build recorded as failed: ``{variant, format, error, exporter, exporter_version, export_s}``."""
    try:
        manifest = json.loads((build / BUILD_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for variant, formats in sorted(manifest.get("variants", {}).items()):
        for fmt, entry in sorted(formats.items()):
            if "failed" in entry:
                exporter, version = exporter_of(entry, manifest.get("tool_versions", {}))
                out.append({"variant": variant, "format": fmt, "error": entry["failed"], "exporter": exporter,
                            "exporter_version": version, "export_s": entry.get("seconds")})
    return out
