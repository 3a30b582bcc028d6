"""Weight dtypes read from model files, without the ``onnx`` package (a worker may hold only one runtime).

A few lines of protobuf wire format for ONNX (initializers and Constant values), the ``Const`` layers for
OpenVINO IR. Counts are element counts per dtype; ``weight_dtypes`` is the column. What precision those
counts mean for a runtime is :mod:`genai_harness.backends.numerics`' business (``stored_precision``).
"""

from __future__ import annotations

import contextlib
import gc
import math
import mmap
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ONNX_DTYPES = {1: "f32", 2: "u8", 3: "i8", 4: "u16", 5: "i16", 6: "i32", 7: "i64", 8: "string", 9: "bool",
               10: "f16", 11: "f64", 12: "u32", 13: "u64", 14: "c64", 15: "c128", 16: "bf16", 17: "f8e4m3fn",
               18: "f8e4m3fnuz", 19: "f8e5m2", 20: "f8e5m2fnuz", 21: "u4", 22: "i4", 23: "f4e2m1"}
OV_DTYPES = {"boolean": "bool", "f8e4m3": "f8e4m3fn"}
WEIGHT_LIKE = ("f32", "f16", "bf16", "f64", "i8", "u8", "i4", "u4", "f8e4m3fn", "f8e5m2", "f4e2m1")
"""Element types that carry weights (shapes and indices are i64/i32 and say nothing about precision)."""


def varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def proto_fields(buf: memoryview) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, int or memoryview) of one protobuf message, without copying payloads."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def tensor_info(buf: memoryview) -> tuple[str, int]:
    """(dtype, element count) of a TensorProto (dims = 1, data_type = 2)."""
    dtype, count, dims = "", 1, 0
    for number, wire, value in proto_fields(buf):
        if number == 2 and wire == 0:
            dtype = ONNX_DTYPES.get(value, f"onnx{value}")
        elif number == 1:
            if wire == 0:
                count, dims = count * value, dims + 1
            else:  # packed
                pos = 0
                while pos < len(value):
                    dim, pos = varint(value, pos)
                    count, dims = count * dim, dims + 1
    return dtype, count


def graph_fields(path: Path) -> Iterator[tuple[int, memoryview]]:
    """The length-delimited fields of an ONNX file's graph, ``(GraphProto field number, bytes)``, read from a
    memory map without loading the file (1: node, 5: initializer, 11: input)."""
    with path.open("rb") as handle:
        # The mapping closes when the last view of it is collected (views of it may outlive this block).
        view = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
    for number, wire, graph in proto_fields(view):
        if number != 7 or wire != 2:  # ModelProto.graph
            continue
        for g_number, g_wire, item in proto_fields(graph):
            if g_wire == 2:
                yield g_number, item


def onnx_weight_elements(path: Path) -> Counter[str]:
    """Element count per dtype of the initializers and Constant tensors of an ONNX file."""
    counts: Counter[str] = Counter()
    for g_number, item in graph_fields(path):
        if g_number == 5:  # GraphProto.initializer
            dtype, count = tensor_info(item)
            counts[dtype] += count
        elif g_number == 1:  # GraphProto.node: Constant / ConstantOfShape values
            for n_number, n_wire, attribute in proto_fields(item):
                if n_number == 5 and n_wire == 2:
                    for a_number, a_wire, tensor in proto_fields(attribute):
                        if a_number == 5 and a_wire == 2:
                            dtype, count = tensor_info(tensor)
                            counts[dtype] += count
    return counts


@dataclass(frozen=True)
class IRGraph:
    """What the harness reads from an OpenVINO IR ``.xml`` (:func:`parse_ir`)."""

    layers: dict[str, tuple[str, str, list[int]]]
    """Layer id -> (type, element type, shape), in document order (of two layers with one id, a nested body's and
    the top graph's, the later in the file is kept)."""
    consumers: dict[str, list[tuple[str, str]]]
    """Layer id -> the (layer, port) pairs its outputs feed."""
    const_elements: Counter[str]
    """Element count per dtype of every ``Const`` layer that names its element type."""
    runtime_options: dict[str, str]
    """``rt_info/runtime_options``: what OpenVINO applies unless the caller overrides (KV_CACHE_PRECISION ...)."""
    nncf: dict[str, str]
    """``rt_info/nncf/weight_compression``: what NNCF wrote about its weight compression (mode, group_size ...)."""


def _shape(text: str | None) -> list[int]:
    return [int(d) if d.strip().isdigit() else 1 for d in filter(None, (text or "").split(","))]


def _section(root: ET.Element, where: str) -> dict[str, str]:
    found = root.find(where)
    return {} if found is None else {child.tag: str(child.get("value", "")) for child in found}


def parse_ir(path: Path) -> IRGraph:
    """One parse of an OpenVINO IR ``.xml`` for everything the harness reads from it (weight dtypes, the weights'
    decompression subgraphs, runtime options): a real model's IR takes a tenth of a second or more to parse."""
    # smollm2-135m's tree is 70 000 elements: the cyclic collector ran over them again and again, half of the
    # parse's time; a tree holds no cycles, so reference counts free it without the collector
    with _collector_paused():
        return _graph(ET.parse(path).getroot())


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _graph(root: ET.Element) -> IRGraph:
    layers: dict[str, tuple[str, str, list[int]]] = {}
    elements: Counter[str] = Counter()
    for layer in root.iter("layer"):
        data = layer.find("data")
        stored = data.get("element_type", "") if data is not None else ""
        dtype = OV_DTYPES.get(stored, stored)
        shape = _shape(data.get("shape")) if data is not None else []
        layers[layer.get("id", "")] = (layer.get("type", ""), dtype, shape)
        if layer.get("type") == "Const" and stored:
            elements[dtype] += math.prod(shape)
    consumers: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for edge in root.iter("edge"):
        consumers[edge.get("from-layer", "")].append((edge.get("to-layer", ""), edge.get("to-port", "")))
    return IRGraph(layers, dict(consumers), elements, _section(root, "./rt_info/runtime_options"),
                   _section(root, "./rt_info/nncf/weight_compression"))


def weight_dtypes(counts: Mapping[str, int]) -> str:
    """The ``weight_dtypes`` column: every dtype found, sorted, comma-joined."""
    return ",".join(sorted(k for k, v in counts.items() if k))


def model_files(model_path: Path, suffix: str) -> list[Path]:
    """The model files under a file or folder (``*.onnx`` or ``*.xml`` IRs beside their ``.bin``)."""
    if model_path.is_file():
        return [model_path]
    found = sorted(model_path.rglob(f"*{suffix}"))
    if suffix == ".xml":
        found = [p for p in found if p.with_suffix(".bin").is_file()]
    return found
