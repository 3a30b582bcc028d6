"""What a model's weights are for compute, read from its files: the ``weight_precision`` column.

The storage dtype is not the precision: onnxruntime's ``MatMulNBits bits=4`` packs two int4 weights a byte in
uint8 tensors, and OpenVINO's compressed weights are ``u4``/``i4``/``u8``/``i8`` Constants decompressed by a
``Convert -> [Subtract zero point] -> Multiply scale`` subgraph. Both are read here as what they are: int4 or
int8, symmetric or not (a zero point or none), with their block (onnxruntime) or group (OpenVINO) size; plain
weights as float32/float16/bfloat16. Counts are logical weight elements, so a model that keeps its embedding
in int8 beside int4 matrices says which dominates and by how much.

No ``onnx`` or ``openvino`` import: the ONNX file is read as protobuf wire format
(:mod:`genai_harness.backends.model_dtypes`), the IR as XML.
"""

from __future__ import annotations

import copy
import functools
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_harness.backends.model_dtypes import (
    ONNX_DTYPES,
    IRGraph,
    graph_fields,
    onnx_weight_elements,
    parse_ir,
    proto_fields,
    tensor_info,
)

PRECISION_OF = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64",
                "u4": "int4", "i4": "int4", "u8": "int8", "i8": "int8", "u2": "int2", "u1": "int1",
                "nf4": "nf4", "f4e2m1": "fp4", "f8e4m3fn": "fp8", "f8e5m2": "fp8"}
"""Storage element type -> the weight precision it is (``weight_precision`` words)."""
FLOATS = ("f32", "f16", "bf16", "f64")
LOW_BIT = tuple(k for k in PRECISION_OF if k not in FLOATS)
QUANTIZED_OPS = ("MatMulNBits", "GatherBlockQuantized")
"""onnxruntime contrib operators whose weight input holds packed low-bit weights."""


@dataclass(frozen=True)
class Scheme:
    """How one group of weights is quantized (a key of :attr:`WeightPrecision.schemes`)."""

    precision: str
    symmetric: bool | None = None
    group: int | None = None
    storage: str = ""


@dataclass
class WeightPrecision:
    """The weights of a model by quantization scheme, in logical elements; :meth:`label` is the column."""

    schemes: Counter[Scheme] = field(default_factory=Counter)
    group_word: str = "group"
    extra: dict[str, Any] = field(default_factory=dict)

    def dominant(self) -> Scheme | None:
        """The scheme that holds most weight elements."""
        return max(self.schemes, key=lambda s: self.schemes[s]) if self.schemes else None

    @property
    def precision(self) -> str | None:
        """The dominant scheme's precision word (int4, int8, float32 ...)."""
        top = self.dominant()
        return top.precision if top else None

    def share(self, scheme: Scheme) -> float:
        """The fraction of all weight elements ``scheme`` holds."""
        total = sum(self.schemes.values())
        return self.schemes[scheme] / total if total else 0.0

    def label(self) -> str | None:
        """``int4 asym, block 32 (MatMulNBits), 78% of weights; float32 22%`` and the like (None: no weights)."""
        top = self.dominant()
        if top is None:
            return None
        text = self._describe(top)
        if self.share(top) < 0.95:
            by_precision: Counter[str] = Counter()
            for scheme, count in self.schemes.items():
                if scheme != top:
                    by_precision[scheme.precision] += count
            total = sum(self.schemes.values())
            rest = "; ".join(f"{p} {c / total:.0%}" for p, c in by_precision.most_common())
            text += f", {self.share(top):.0%} of weights; {rest}"
        return text

    def _describe(self, scheme: Scheme) -> str:
        text = scheme.precision
        if scheme.symmetric is not None:
            text += " sym" if scheme.symmetric else " asym"
        if scheme.group:
            text += f", {self.group_word} {scheme.group}"
        elif scheme.storage and scheme.precision not in ("float32", "float16", "bfloat16"):
            text += ", per channel"
        return text + (f" ({scheme.storage})" if scheme.storage else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready breakdown (the ``numerics`` details' ``weight_precision``)."""
        total = sum(self.schemes.values())
        return {"label": self.label(), "precision": self.precision, **self.extra,
                "schemes": [{"precision": s.precision, "symmetric": s.symmetric, self.group_word: s.group,
                             "storage": s.storage, "elements": n, "share": round(n / total, 4) if total else 0}
                            for s, n in self.schemes.most_common()]}


# ---- ONNX ------------------------------------------------------------------------------------------------------

def _node(buf: memoryview) -> tuple[str, str, list[str], dict[str, int]]:
    """(op_type, domain, inputs, integer attributes) of a NodeProto."""
    op_type, domain, inputs, attributes = "", "", [], {}
    for number, wire, value in proto_fields(buf):
        if number == 1 and wire == 2:
            inputs.append(bytes(value).decode("utf-8", "replace"))
        elif number == 4 and wire == 2:
            op_type = bytes(value).decode("utf-8", "replace")
        elif number == 7 and wire == 2:
            domain = bytes(value).decode("utf-8", "replace")
        elif number == 5 and wire == 2:
            name, integer = "", None
            for a_number, a_wire, a_value in proto_fields(value):
                if a_number == 1 and a_wire == 2:
                    name = bytes(a_value).decode("utf-8", "replace")
                elif a_number == 3 and a_wire == 0:
                    integer = a_value - (1 << 64) if a_value >= 1 << 63 else a_value
            if integer is not None:
                attributes[name] = integer
    return op_type, domain, inputs, attributes


def _initializer(buf: memoryview) -> tuple[str, str, int]:
    """(name, dtype, element count) of a TensorProto."""
    name = ""
    for number, wire, value in proto_fields(buf):
        if number == 8 and wire == 2:
            name = bytes(value).decode("utf-8", "replace")
            break
    dtype, count = tensor_info(buf)
    return name, dtype, count


def _input_dtype(buf: memoryview) -> tuple[str, str]:
    """(name, element type) of a graph input's ValueInfoProto."""
    name, dtype = "", ""
    for number, wire, value in proto_fields(buf):
        if number == 1 and wire == 2:
            name = bytes(value).decode("utf-8", "replace")
        elif number == 2 and wire == 2:
            for t_number, t_wire, t_value in proto_fields(value):
                if t_number == 1 and t_wire == 2:  # TypeProto.tensor_type
                    for e_number, e_wire, e_value in proto_fields(t_value):
                        if e_number == 1 and e_wire == 0:
                            dtype = ONNX_DTYPES.get(e_value, f"onnx{e_value}")
    return name, dtype


def onnx_weight_precision(path: Path) -> tuple[WeightPrecision, dict[str, str]]:
    """The weights of an ONNX file by scheme, and its graph inputs' element types (the KV cache's among them)."""
    initializers: dict[str, tuple[str, int]] = {}
    nodes: list[tuple[str, str, list[str], dict[str, int]]] = []
    inputs: dict[str, str] = {}
    for g_number, item in graph_fields(path):
        if g_number == 5:
            name, dtype, count = _initializer(item)
            initializers[name] = (dtype, count)
        elif g_number == 1:
            nodes.append(_node(item))
        elif g_number == 11:
            name, dtype = _input_dtype(item)
            inputs[name] = dtype
    result = WeightPrecision(group_word="block")
    consumed: set[str] = set()
    levels: Counter[int] = Counter()
    for op_type, domain, node_inputs, attributes in nodes:
        if domain == "com.microsoft" and op_type in QUANTIZED_OPS:
            bits = attributes.get("bits", 4)
            data = node_inputs[1] if op_type == "MatMulNBits" else node_inputs[0]
            zero_point = node_inputs[3] if len(node_inputs) > 3 and node_inputs[3] else ""
            if op_type == "MatMulNBits":
                elements = attributes.get("K", 0) * attributes.get("N", 0)
                levels[attributes.get("accuracy_level", 0)] += elements
            else:
                dtype, count = initializers.get(data, ("u8", 0))
                elements = count * (8 // bits) if dtype == "u8" and bits < 8 else count
            scheme = Scheme(f"int{bits}", not zero_point, attributes.get("block_size", 128) or None, op_type)
            result.schemes[scheme] += elements
            consumed.update(i for i in node_inputs[1:] if i)
            consumed.add(data)
        elif op_type == "DequantizeLinear" and node_inputs and node_inputs[0] in initializers:
            dtype, count = initializers[node_inputs[0]]
            if dtype in LOW_BIT:
                zero_point = node_inputs[2] if len(node_inputs) > 2 and node_inputs[2] else ""
                scheme = Scheme(PRECISION_OF[dtype], not zero_point, attributes.get("block_size") or None,
                                f"DequantizeLinear {dtype}")
                result.schemes[scheme] += count
                consumed.update(i for i in node_inputs if i in initializers)
    for name, (dtype, count) in initializers.items():
        if name not in consumed and dtype in FLOATS:
            result.schemes[Scheme(PRECISION_OF[dtype])] += count
    if levels:
        result.extra["accuracy_level"] = max(levels, key=lambda k: levels[k])
    return result, inputs


# ---- OpenVINO IR -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IRFacts:
    """What a cell reads from an OpenVINO IR ``.xml`` (:func:`ov_ir_facts`); shared between callers: copy to change."""

    weights: WeightPrecision
    """Its weights by scheme (:func:`ov_weight_precision`)."""
    elements: Counter[str]
    """Element count per dtype of its ``Const`` layers (the ``weight_dtypes`` column's counts)."""
    runtime_options: dict[str, str]
    """Its ``rt_info/runtime_options`` (OpenVINO applies them unless the caller overrides)."""


def ov_ir_facts(path: Path) -> IRFacts:
    """Weights by scheme, dtype counts and runtime options of an OpenVINO IR ``.xml``, from one parse, remembered
    for the file as it is now (path, size, modification time). A real model's IR took 0.4 s to read three times
    (smollm2-135m int4), in every cell; the parsed graph itself is not kept (it would count in the cell's memory)."""
    stat = path.stat()
    return _ir_facts(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _ir_facts(path: str, _size: int, _mtime_ns: int) -> IRFacts:
    graph = parse_ir(Path(path))
    return IRFacts(_scheme_counts(graph), graph.const_elements, graph.runtime_options)


def ov_ir_weight_elements(path: Path) -> Counter[str]:
    """Element count per dtype of the ``Const`` layers of an OpenVINO IR ``.xml`` (through :func:`ov_ir_facts`)."""
    return Counter(ov_ir_facts(path).elements)  # a copy: the remembered one is shared


def model_weight_elements(paths: Iterable[Path]) -> Counter[str]:
    """Element count per dtype over model files (``.onnx``, and OpenVINO ``.xml`` through :func:`ov_ir_facts`); the
    ``weight_dtypes`` column's counts. Unreadable files are skipped (the model's own load reports them)."""
    counts: Counter[str] = Counter()
    for path in paths:
        try:
            if path.suffix == ".onnx":
                counts.update(onnx_weight_elements(path))
            elif path.suffix == ".xml":
                counts.update(ov_ir_weight_elements(path))
        except (OSError, ValueError, IndexError, ET.ParseError):
            continue
    return counts


def ov_weight_precision(path: Path) -> WeightPrecision:
    """The weights of an OpenVINO IR ``.xml`` by scheme, read from its Constants and their decompression subgraph."""
    return copy.deepcopy(ov_ir_facts(path).weights)  # the remembered one is shared


def _scheme_counts(graph: IRGraph) -> WeightPrecision:
    layers, consumers = graph.layers, defaultdict(list, graph.consumers)
    result = WeightPrecision(group_word="group")
    float_consts: list[tuple[str, str, int]] = []
    scaled: set[str] = set()  # the Subtract/Multiply nodes of decompression subgraphs
    for layer_id, (kind, dtype, shape) in layers.items():
        if kind != "Const" or dtype not in PRECISION_OF:
            continue
        count = 1
        for dim in shape:
            count *= dim
        if dtype in FLOATS:
            float_consts.append((layer_id, dtype, count))
            continue
        converts = [c for c, _port in consumers[layer_id] if layers.get(c, ("",))[0] == "Convert"]
        uses = [(c, layers.get(c, ("",))[0], port) for convert in converts for c, port in consumers[convert]]
        if any(kind == "Subtract" and port == "1" for _c, kind, port in uses):
            continue  # a zero point, not a weight
        for node, kind, _port in uses:
            scaled.add(node)
            scaled.update(c for c, _p in consumers[node] if kind == "Subtract")
        scheme = Scheme(PRECISION_OF[dtype], symmetric=not any(kind == "Subtract" for _c, kind, _port in uses),
                        group=shape[-1] if len(shape) == 3 else None, storage=dtype)
        result.schemes[scheme] += count
    for layer_id, dtype, count in float_consts:
        targets = {c for c, _port in consumers[layer_id]}
        targets |= {c for t in targets if layers.get(t, ("",))[0] == "Convert" for c, _port in consumers[t]}
        if not targets & scaled:  # a scale of compressed weights is no weight of its own
            result.schemes[Scheme(PRECISION_OF[dtype])] += count
    if graph.nncf:
        result.extra["nncf"] = dict(graph.nncf)
    return result


def model_weight_precision(paths: Iterable[Path]) -> tuple[WeightPrecision, dict[str, str]]:
    """Weights by scheme over model files (``.onnx``, OpenVINO ``.xml``), and the ONNX graph inputs' types.

    Unreadable files are skipped (the model's own load reports them).
    """
    total = WeightPrecision()
    inputs: dict[str, str] = {}
    for path in paths:
        try:
            if path.suffix == ".onnx":
                part, found = onnx_weight_precision(path)
                inputs.update(found)
            elif path.suffix == ".xml":
                part = ov_weight_precision(path)
            else:
                continue
        except (OSError, ValueError, IndexError, ET.ParseError):
            continue
        total.schemes.update(part.schemes)
        total.group_word = part.group_word
        total.extra.update(part.extra)
    return total, inputs


def kv_cache_dtype(inputs: Mapping[str, str]) -> str | None:
    """The element type of an ONNX decoder's past key/value inputs (``past_key_values.0.key`` ...)."""
    kinds = {dtype for name, dtype in inputs.items() if name.startswith("past_") or ".past" in name or "cache" in name}
    return ",".join(sorted(kinds)) if kinds else None
