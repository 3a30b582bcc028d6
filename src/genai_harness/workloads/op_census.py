"""The op census of an exported model: how many nodes of each operator, by domain, and how many are standard ONNX.

The export question (issue 21) is which export of one checkpoint runs where; an export's operator set is what
decides it. A census is ``{domain: {op_type: count}}``: ONNX domains as written (``ai.onnx`` for the default
domain), OpenVINO IR layers under ``openvino.<opset>`` (their ``version`` attribute). Standard ONNX domains are
``ai.onnx``, ``ai.onnx.ml`` and ``ai.onnx.preview``; everything else (``com.microsoft`` ...) is a contrib or
custom domain, run only where someone implemented it. OpenVINO IR has no contrib ops in that sense: its layers
count as standard for the IR's own runtime, except ``extension`` ones (custom operations).

An ONNX file's census and producer are remembered in the harness's cache per file state
(:func:`remembered_onnx`): reading them imports onnx, 0.45 s of a one-cell run's parent process, and parses the
whole graph.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genai_harness.cache_home import harness_cache, remembered_json
from genai_harness.errors import ModelError

STANDARD_ONNX_DOMAINS = ("ai.onnx", "ai.onnx.ml", "ai.onnx.preview", "ai.onnx.preview.training")
"""Domains the ONNX standard defines; any other domain is contrib/custom."""
IR_CUSTOM_PREFIX = "openvino.extension"
"""An OpenVINO IR layer from a custom-operation extension (not part of any OpenVINO opset)."""

Census = dict[str, dict[str, int]]


def onnx_census(path: Path) -> Census:
    """The census of an ONNX file and its local functions' callers (external data is not read); remembered per file
    state (:func:`remembered_onnx`)."""
    return remembered_onnx(path)["census"]


def onnx_producer(path: Path) -> tuple[str | None, str | None]:
    """(producer name, version) an ONNX file records about what wrote it; read with its census, remembered alike."""
    name, version = remembered_onnx(path)["producer"]
    return name, version


def _read_onnx(path: Path) -> dict[str, Any]:
    """What one read of an ONNX file gives: its census and its producer (``{"census": ..., "producer": [n, v]}``)."""
    # lazy: onnx only when an ONNX file is read and was never remembered; the catalog loads without it
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path} is not a readable ONNX model (truncated or corrupt?): {exc}") from exc
    local = {(f.domain, f.name) for f in model.functions}
    counts: Counter[tuple[str, str]] = Counter()
    stack = [model.graph]
    while stack:  # subgraphs (If/Loop/Scan bodies) count too
        graph = stack.pop()
        for node in graph.node:
            if (node.domain, node.op_type) not in local:
                counts[(node.domain or "ai.onnx", node.op_type)] += 1
            stack.extend(attr.g for attr in node.attribute if attr.HasField("g"))
            stack.extend(g for attr in node.attribute for g in attr.graphs)
    for function in model.functions:  # a local function's body is what a runtime has to run
        for node in function.node:
            counts[(node.domain or "ai.onnx", node.op_type)] += 1
    return {"census": _nest(counts), "producer": [model.producer_name or None, model.producer_version or None]}


def ir_census(xml_path: Path) -> Census:
    """The census of an OpenVINO IR ``.xml`` (layer type by the opset its ``version`` attribute names)."""
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ModelError(f"{xml_path} is not a readable OpenVINO IR (truncated or corrupt?): {exc}") from exc
    counts: Counter[tuple[str, str]] = Counter()
    for layer in root.iter("layer"):
        kind = layer.get("type", "?")
        if kind in ("Parameter", "Result", "Const"):
            continue  # graph inputs, outputs and weights: not operators a plugin must implement
        counts[(f"openvino.{layer.get('version', '?')}", kind)] += 1
    return _nest(counts)


def _nest(counts: Counter[tuple[str, str]]) -> Census:
    nested: Census = {}
    for (domain, op), n in sorted(counts.items()):
        nested.setdefault(domain, {})[op] = n
    return nested


def model_census(path: Path) -> Census | None:
    """The census of a model file or folder (``model.onnx`` or ``openvino_model.xml`` inside), None when the
    folder holds neither (a Stable Diffusion component folder, say)."""
    if path.is_file():
        return onnx_census(path) if path.suffix == ".onnx" else ir_census(path) if path.suffix == ".xml" else None
    for name, count in (("model.onnx", onnx_census), ("openvino_model.xml", ir_census)):
        if (path / name).is_file():
            return count(path / name)
    return None


def remembered_onnx(file: Path) -> dict[str, Any]:
    """What :func:`_read_onnx` reads of ``file``, remembered in the harness's cache (``census/KEY.json``) under the
    file's state: its absolute path, size and modification time (ns). A changed file is read again; a file that
    cannot be read raises :class:`ModelError` and is never remembered; a remembered answer of another shape, or a
    cache that cannot be read or written, reads the file again."""
    try:
        state = file.stat()
    except OSError:
        return _read_onnx(file)
    identity = f"onnx|{file.absolute()}|{state.st_size}|{state.st_mtime_ns}"
    kept = harness_cache() / "census" / f"{hashlib.sha256(identity.encode()).hexdigest()[:24]}.json"
    return remembered_json(kept, _is_onnx_facts, lambda: _read_onnx(file))


def _is_onnx_facts(value: Any) -> bool:
    """Whether ``value`` has the shape :func:`_read_onnx` gives (pure): a census ``{domain: {op: count}}`` and a
    producer ``[name, version]``."""
    if not isinstance(value, dict) or set(value) != {"census", "producer"}:
        return False
    census, producer = value["census"], value["producer"]
    return (isinstance(producer, list) and len(producer) == 2
            and all(v is None or isinstance(v, str) for v in producer) and isinstance(census, dict)
            and all(isinstance(domain, str) and isinstance(ops, dict)
                    and all(isinstance(op, str) and type(n) is int for op, n in ops.items())
                    for domain, ops in census.items()))


def is_standard(domain: str) -> bool:
    """Whether ``domain`` is part of the standard its format defines (pure)."""
    if domain == "openvino" or domain.startswith("openvino."):
        return not domain.startswith(IR_CUSTOM_PREFIX)
    return domain in STANDARD_ONNX_DOMAINS


def census_totals(census: Mapping[str, Mapping[str, int]]) -> tuple[int, int]:
    """(standard op nodes, contrib/custom op nodes) of a census (pure)."""
    standard = sum(n for d, ops in census.items() if is_standard(d) for n in ops.values())
    other = sum(n for d, ops in census.items() if not is_standard(d) for n in ops.values())
    return standard, other


def census_summary(census: Mapping[str, Mapping[str, int]]) -> str:
    """One line: node counts per domain, the contrib ops named (pure): ``ai.onnx 400; com.microsoft 90
    (GroupQueryAttention 30, SkipSimplifiedLayerNormalization 60)``."""
    merged: dict[str, dict[str, int]] = {}
    for domain, ops in census.items():  # an IR's opsets read as one standard: "openvino"
        key = "openvino" if domain.startswith("openvino.") and is_standard(domain) else domain
        for op, n in ops.items():
            merged.setdefault(key, {})[op] = merged.get(key, {}).get(op, 0) + n
    parts = []
    for domain, ops in sorted(merged.items()):
        text = f"{domain} {sum(ops.values())}"
        if not is_standard(domain):
            text += " (" + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())) + ")"
        parts.append(text)
    return "; ".join(parts) or "no operators"
