"""Int4 and int8 variants of the bundled tiny-llm, made offline in a test's folder: real models for real runtimes.

onnxruntime-genai: every ``MatMul`` with a constant weight becomes ``MatMulNBits`` (bits 4 or 8, block-wise
scales, zero points when asymmetric, ``accuracy_level``), the contrib operator the onnxruntime-genai builder
writes for ``-p int4`` (onnxruntime's own MatMulNBitsQuantizer needs ``onnx_ir``, which the main venv lacks).
OpenVINO: every ``MatMul`` with a constant weight takes the decompression subgraph NNCF writes for weight
compression (``Constant u4/i4/u8/i8 -> Convert -> [Subtract zero point] -> Multiply scale -> Reshape``), so the
CPU plugin runs it as a compressed FullyConnected (nncf is not installed here).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from support import REPO

TINY_LLM = REPO / "src" / "genai_harness" / "workloads" / "models" / "tiny-llm"


def _quantize_blocks(weight: np.ndarray, bits: int, block: int, symmetric: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(codes [N, blocks, block], scales [N, blocks], zero points [N, blocks] or None) of a [K, N] weight."""
    k, n = weight.shape
    blocks = -(-k // block)
    padded = np.zeros((blocks * block, n), dtype=np.float32)
    padded[:k] = weight
    w = padded.T.reshape(n, blocks, block)
    top = 2 ** bits - 1
    if symmetric:
        scale = np.abs(w).max(axis=2) / (2 ** (bits - 1))
        scale[scale == 0] = 1.0
        codes = np.clip(np.round(w / scale[..., None]) + 2 ** (bits - 1), 0, top)
        return codes.astype(np.uint8), scale.astype(np.float32), None
    low, high = np.minimum(w.min(axis=2), 0), np.maximum(w.max(axis=2), 0)
    scale = (high - low) / top
    scale[scale == 0] = 1.0
    zero = np.clip(np.round(-low / scale), 0, top)
    codes = np.clip(np.round(w / scale[..., None]) + zero[..., None], 0, top)
    return codes.astype(np.uint8), scale.astype(np.float32), zero.astype(np.uint8)


def _pack4(values: np.ndarray) -> np.ndarray:
    """Two 4-bit values a byte, the first in the low nibble (MatMulNBits' layout), along the last axis."""
    if values.shape[-1] % 2:
        values = np.concatenate([values, np.zeros((*values.shape[:-1], 1), np.uint8)], axis=-1)
    return (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)


def ort_genai_quantized(out: Path, *, bits: int = 4, block: int = 32, symmetric: bool = False,
                        accuracy_level: int = 4) -> Path:
    """The bundled tiny-llm's onnxruntime-genai folder with its MatMul weights as MatMulNBits, in ``out``."""
    import onnx  # the onnx package: only for building the fixture (the harness reads models without it)
    from onnx import helper, numpy_helper

    shutil.copytree(TINY_LLM / "onnxruntime_genai", out)
    model = onnx.load(str(out / "model.onnx"))
    initializers = {i.name: i for i in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        weight = initializers.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        array = numpy_helper.to_array(weight) if weight is not None else None
        if array is None or array.ndim != 2:
            nodes.append(node)
            continue
        k, n = array.shape
        codes, scales, zeros = _quantize_blocks(array, bits, block, symmetric)
        packed = _pack4(codes) if bits == 4 else codes
        name = weight.name
        new = [numpy_helper.from_array(packed, f"{name}_Q{bits}"), numpy_helper.from_array(scales.reshape(-1),
                                                                                             f"{name}_scales")]
        inputs = [node.input[0], new[0].name, new[1].name]
        if zeros is not None:
            zp = _pack4(zeros) if bits == 4 else zeros
            new.append(numpy_helper.from_array(zp.reshape(-1), f"{name}_zero_points"))
            inputs.append(new[2].name)
        model.graph.initializer.extend(new)
        model.graph.initializer.remove(weight)
        del initializers[name]
        nodes.append(helper.make_node("MatMulNBits", inputs, list(node.output), name=node.name + "_Q",
                                      domain="com.microsoft", K=k, N=n, bits=bits, block_size=block,
                                      accuracy_level=accuracy_level))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    (out / "model.onnx.data").unlink()
    onnx.save(model, str(out / "model.onnx"), save_as_external_data=True, location="model.onnx.data")
    return out


def openvino_compressed(out: Path, *, kind: str = "u4", group: int = 32) -> Path:
    """The bundled tiny-llm's OpenVINO folder with its MatMul weights compressed to ``kind`` (u4, i4, u8, i8)."""
    import openvino  # openvino: only for building the fixture
    from openvino import opset13 as ops

    shutil.copytree(TINY_LLM / "openvino", out, ignore=shutil.ignore_patterns("openvino_model.*"))
    core = openvino.Core()
    model = core.read_model(str(TINY_LLM / "openvino" / "openvino_model.xml"))  # never saved over its own mmap
    bits, signed = int(kind[1:]), kind.startswith("i")
    element = {"u4": openvino.Type.u4, "i4": openvino.Type.i4, "u8": openvino.Type.u8, "i8": openvino.Type.i8}[kind]
    for op in model.get_ordered_ops():
        if op.get_type_name() != "MatMul":
            continue
        source = op.input_value(1).get_node()
        if source.get_type_name() == "Convert":  # an f16-compressed weight
            source = source.input_value(0).get_node()
        if source.get_type_name() != "Constant":
            continue
        array = source.get_data().astype(np.float32)
        transposed = bool(op.get_attributes().get("transpose_b", False))
        weight = array.T if transposed else array  # [K, N]
        if weight.ndim != 2 or weight.shape[0] % group:
            continue
        codes, scales, zeros = _quantize_blocks(weight, bits, group, symmetric=signed)
        n, blocks = scales.shape
        if signed:
            codes = codes.astype(np.int16) - 2 ** (bits - 1)
        const = ops.constant(codes.astype(np.int8 if signed else np.uint8), dtype=element)
        decompressed = ops.convert(const, openvino.Type.f16)
        if zeros is not None:
            decompressed = ops.subtract(decompressed, ops.convert(
                ops.constant(zeros.reshape(n, blocks, 1), dtype=element), openvino.Type.f16))
        # ops.constant of a float16 array after a u4 one answers i16 (openvino 2026.4): build it from a Tensor
        scale = openvino.op.Constant(openvino.Tensor(np.ascontiguousarray(scales.reshape(n, blocks, 1), np.float16)))
        decompressed = ops.multiply(decompressed, scale)
        reshaped = ops.reshape(decompressed, ops.constant(np.array([n, blocks * group], dtype=np.int64)), False)
        weight_out = ops.convert(reshaped, openvino.Type.f32)
        replacement = ops.matmul(op.input_value(0), weight_out, bool(op.get_attributes().get("transpose_a")), True)
        replacement.set_friendly_name(op.get_friendly_name())
        op.output(0).replace(replacement.output(0))
    openvino.save_model(model, str(out / "openvino_model.xml"), compress_to_fp16=False)
    return out
