"""Numerics: what a cell asks for (precision, threads) and what the runtime read back after load.

A backend reads the request from its Device's config (``precision``, ``threads``; the cell puts them
there), applies it where its runtime can, reads back what the runtime really runs with and hands it
over as a :class:`Numerics`. :func:`check_honoured` then refuses a cell whose read-back differs from
the request, so that nothing runs under a name it did not earn.

Weight dtypes are read from the model files themselves, without the ``onnx`` package (a worker may run
in a venv that holds only one runtime): a few lines of protobuf wire format for ONNX, the ``Const``
layers for OpenVINO IR.
"""

from __future__ import annotations

import mmap
import os
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_harness.errors import ConfigurationError, NumericsError

PRECISIONS = ("default", "f32", "bf16", "f16")
"""What a workload, the CLI or the API may ask for; ``default`` is what the runtime picks (what a deployer gets)."""

PRECISION_KEY = "precision"
THREADS_KEY = "threads"

_WORDS = {
    "f32": "f32", "fp32": "f32", "float32": "f32", "float": "f32",
    "bf16": "bf16", "bfloat16": "bf16",
    "f16": "f16", "fp16": "f16", "float16": "f16", "half": "f16",
    "int8": "int8", "i8": "int8", "u8": "int8", "uint8": "int8", "uint8_t": "int8", "int8_t": "int8",
    "int4": "int4", "i4": "int4", "u4": "int4", "uint4": "int4",
}


def normalize_precision(word: object) -> str:
    """``f32|bf16|f16|int8|int4`` for the runtimes' many spellings; the runtime's own word (lowercase) otherwise.

    OpenVINO answers ``<Type: 'bfloat16'>`` and the like: the quoted name is taken.
    """
    text = str(word).strip()
    if "'" in text:
        text = text.split("'")[1]
    return _WORDS.get(text.lower(), text.lower())


def check_precision(value: object, where: str = "precision") -> str:
    """A valid precision request, or a :class:`ConfigurationError` naming the choices."""
    text = "default" if value is None else str(value).strip().lower()
    if text not in PRECISIONS:
        raise ConfigurationError(f"{where} {value!r} is not one of {', '.join(PRECISIONS)}")
    return text


def check_threads(value: object, where: str = "threads") -> int | None:
    """A valid thread-count request (None: the runtime's default), or a :class:`ConfigurationError`."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{where} must be a whole number of at least 1 (or 0 for the runtime's default), "
                                 f"got {value!r}")
    return value


def requested(config: Mapping[str, Any]) -> tuple[str, int | None]:
    """The (precision, threads) a Device config asks for."""
    return check_precision(config.get(PRECISION_KEY)), check_threads(config.get(THREADS_KEY))


@dataclass
class Numerics:
    """What a loaded pipeline really runs with, read back from the runtime.

    ``precision`` is normalized (:func:`normalize_precision`); ``threads`` the compute threads the runtime
    uses (None where it cannot say); ``details`` every setting read back, in the runtime's own names,
    plus ``source``: where the values came from.
    """

    precision: str | None
    threads: int | None
    weight_dtypes: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (crosses the worker boundary)."""
        return {"precision": self.precision, "threads": self.threads, "weight_dtypes": self.weight_dtypes,
                "details": self.details}


OPENVINO_EP_DEFAULT_PRECISION = {"CPU": "f32", "GPU": "f16", "NPU": "f16"}
"""The OpenVINO EP's documented default ``precision`` per device_type (it offers no read-back of its own)."""


def default_precision(device: Any) -> str:
    """What a device runs at when nothing is asked, for ``genai-harness devices``.

    OpenVINO devices: the plugin's own INFERENCE_PRECISION_HINT, read at enumeration. The OpenVINO EP: its
    documented default per device_type. Every other onnxruntime EP and onnxruntime-genai: the model's own types.
    """
    config = dict(getattr(device, "config", {}) or {})
    hint = dict(config.get("ov_properties", {})).get("INFERENCE_PRECISION_HINT")
    if hint:
        return normalize_precision(hint)
    if getattr(device, "execution_provider", "") == "OpenVINOExecutionProvider":
        device_type = str(dict(config.get("provider_options", {})).get("device_type", "CPU"))
        kind = device_type.split(":")[-1].split(",")[0].split(".")[0].split("_")[0]
        return OPENVINO_EP_DEFAULT_PRECISION.get(kind, "?") + " (EP default)"
    if config.get("virtual"):
        return "per device"
    return "model's own"


class ReadsNumerics:
    """Mixin for pipelines: ``numerics`` is read back on first access, once.

    The cell asks for it after timing the load, so reading it (a probe compile, a scan of the model
    files) never counts in ``load_s``. A pipeline sets ``_numerics_reader`` in its constructor.
    """

    _numerics_reader: Any = None
    _numerics_value: Numerics | None = None

    @property
    def numerics(self) -> Numerics | None:
        """What the runtime runs with, read back (see :class:`Numerics`)."""
        if self._numerics_value is None and self._numerics_reader is not None:
            self._numerics_value = self._numerics_reader()
        return self._numerics_value


def check_honoured(framework: str, config: Mapping[str, Any], numerics: Numerics | None) -> None:
    """Refuse (NumericsError) a pipeline whose read-back precision or threads differ from what was asked."""
    precision, threads = requested(config)
    if precision == "default" and threads is None:
        return
    if numerics is None:
        raise NumericsError(f"{framework} reports no numerics read back after load, so precision={precision} "
                            f"threads={threads} cannot be confirmed; run with the defaults")
    if precision != "default" and numerics.precision != precision:
        raise NumericsError(f"{framework} was asked for precision {precision} but runs at {numerics.precision} "
                            f"(read back after load); run with precision default or "
                            f"{numerics.precision}")
    if threads is not None and numerics.threads != threads:
        raise NumericsError(f"{framework} was asked for {threads} threads but runs {numerics.threads} "
                            "(read back after load)")


def default_threads() -> int:
    """onnxruntime's default intra-op thread count: one per physical core (of the cores this process may use)."""
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or 0
    except Exception:
        physical = 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(physical or usable, usable))


def refuse(framework: str, precision: str, why: str, fix: str) -> NumericsError:
    """The error of a runtime that cannot honour ``precision``: what, why, and what to do instead."""
    return NumericsError(f"{framework} cannot run at precision {precision}: {why}; {fix}")


# ---- weight dtypes in model files ----------------------------------------------------------------------------------

ONNX_DTYPES = {1: "f32", 2: "u8", 3: "i8", 4: "u16", 5: "i16", 6: "i32", 7: "i64", 8: "string", 9: "bool",
               10: "f16", 11: "f64", 12: "u32", 13: "u64", 14: "c64", 15: "c128", 16: "bf16", 17: "f8e4m3fn",
               18: "f8e4m3fnuz", 19: "f8e5m2", 20: "f8e5m2fnuz", 21: "u4", 22: "i4", 23: "f4e2m1"}
OV_DTYPES = {"boolean": "bool", "f8e4m3": "f8e4m3fn"}
WEIGHT_LIKE = ("f32", "f16", "bf16", "f64", "i8", "u8", "i4", "u4", "f8e4m3fn", "f8e5m2", "f4e2m1")
"""Element types that carry weights (shapes and indices are i64/i32 and say nothing about precision)."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, int or memoryview) of one protobuf message, without copying payloads."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _tensor(buf: memoryview) -> tuple[str, int]:
    """(dtype, element count) of a TensorProto (dims = 1, data_type = 2)."""
    dtype, count, dims = "", 1, 0
    for number, wire, value in _fields(buf):
        if number == 2 and wire == 0:
            dtype = ONNX_DTYPES.get(value, f"onnx{value}")
        elif number == 1:
            if wire == 0:
                count, dims = count * value, dims + 1
            else:  # packed
                pos = 0
                while pos < len(value):
                    dim, pos = _varint(value, pos)
                    count, dims = count * dim, dims + 1
    return dtype, count


def onnx_weight_elements(path: Path) -> Counter[str]:
    """Element count per dtype of the initializers and Constant tensors of an ONNX file."""
    counts: Counter[str] = Counter()
    with path.open("rb") as handle:
        # The mapping closes when the last view of it is collected (views of it may outlive this block).
        view = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
    for number, wire, graph in _fields(view):
        if number != 7 or wire != 2:  # ModelProto.graph
            continue
        for g_number, g_wire, item in _fields(graph):
            if g_wire != 2:
                continue
            if g_number == 5:  # GraphProto.initializer
                dtype, count = _tensor(item)
                counts[dtype] += count
            elif g_number == 1:  # GraphProto.node: Constant / ConstantOfShape values
                for n_number, n_wire, attribute in _fields(item):
                    if n_number == 5 and n_wire == 2:
                        for a_number, a_wire, tensor in _fields(attribute):
                            if a_number == 5 and a_wire == 2:
                                dtype, count = _tensor(tensor)
                                counts[dtype] += count
    return counts


def ov_ir_weight_elements(path: Path) -> Counter[str]:
    """Element count per dtype of the ``Const`` layers of an OpenVINO IR ``.xml``."""
    counts: Counter[str] = Counter()
    for _event, element in ET.iterparse(path, events=("end",)):
        if element.tag == "layer":
            if element.get("type") == "Const":
                data = element.find("data")
                if data is not None and data.get("element_type"):
                    dtype = data.get("element_type", "")
                    count = 1
                    for dim in filter(None, (data.get("shape") or "").split(",")):
                        count *= int(dim) if dim.strip().isdigit() else 1
                    counts[OV_DTYPES.get(dtype, dtype)] += count
            element.clear()
    return counts


def model_weight_elements(paths: Iterable[Path]) -> Counter[str]:
    """Element count per dtype over model files (``.onnx`` and OpenVINO ``.xml``); unreadable files are skipped."""
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


def weight_dtypes(counts: Mapping[str, int]) -> str:
    """The ``weight_dtypes`` column: every dtype found, sorted, comma-joined."""
    return ",".join(sorted(k for k, v in counts.items() if k))


def stored_precision(counts: Mapping[str, int]) -> str | None:
    """The precision a runtime that runs the model's own types computes in: its dominant weight type."""
    weights = {k: v for k, v in counts.items() if k in WEIGHT_LIKE}
    if not weights:
        return None
    return normalize_precision(max(weights, key=lambda k: weights[k]))


def model_files(model_path: Path, suffix: str) -> list[Path]:
    """The model files under a file or folder (``*.onnx`` or ``*.xml`` IRs beside their ``.bin``)."""
    if model_path.is_file():
        return [model_path]
    found = sorted(model_path.rglob(f"*{suffix}"))
    if suffix == ".xml":
        found = [p for p in found if p.with_suffix(".bin").is_file()]
    return found
