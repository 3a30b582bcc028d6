"""What an OpenVINO model is compiled with: the cell's request applied as properties, the result read back.

:func:`compile_properties` turns a Device's ``precision``/``threads`` into OpenVINO properties (refusing a
precision the device lacks); :func:`read_compiled` and :func:`resolved_readback` read back what the plugin
resolved, even where openvino-genai hides its compiled model; :func:`numerics_from` makes that a
:class:`~genai_harness.backends.numerics.Numerics`. Imported only when a pipeline is built (it imports openvino).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import openvino
from openvino import opset13 as ops

from genai_harness.backends import numerics as nx
from genai_harness.backends import weight_precision as wp
from genai_harness.backends.compile_cache import CACHE_DIR_KEY
from genai_harness.interface.devices import FRAMEWORK_OV_GENAI, Device

VIRTUAL_PREFIXES = ("AUTO", "HETERO", "MULTI", "BATCH")
"""Device-string prefixes of OpenVINO's scheduling devices, which run on the physical devices they name or pick."""

READBACK_KEYS = ("INFERENCE_PRECISION_HINT", "KV_CACHE_PRECISION", "DYNAMIC_QUANTIZATION_GROUP_SIZE",
                 "EXECUTION_DEVICES", "PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS",
                 "EXECUTION_MODE_HINT")
"""What every OpenVINO cell reads back after load (the compiled model's properties)."""
CAPABILITY = {"f32": "FP32", "bf16": "BF16", "f16": "FP16"}
"""The OPTIMIZATION_CAPABILITIES entry a device needs for each precision request."""


def compile_properties(device: Device) -> dict[str, Any]:
    """The device's OpenVINO properties with the cell's precision/threads request applied.

    ``precision`` sets INFERENCE_PRECISION_HINT, and for a whole-model request also the KV-cache precision
    and no dynamic quantization (which would quantize activations to int8): f32 means f32 throughout.
    A device whose OPTIMIZATION_CAPABILITIES lack the type refuses (OpenVINO would quietly run f32).
    """
    properties = dict(device.config.get("properties", {}))
    precision, threads = nx.requested(device.config)
    if precision == "int8":
        raise nx.refuse(FRAMEWORK_OV_GENAI, precision, "OpenVINO's INFERENCE_PRECISION_HINT takes a float type; "
                        "integer compute comes from an IR's compressed weights (u8/i8/u4/i4) with dynamic "
                        "quantization, which precision default runs", "run with precision default or f32")
    if precision != "default":
        name = str(device.config.get("device", device.identifier))
        _check_capability(name, precision)
        properties["INFERENCE_PRECISION_HINT"] = precision
        properties["KV_CACHE_PRECISION"] = precision
        properties["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = 0
    if threads is not None:
        properties["INFERENCE_NUM_THREADS"] = threads
    if device.config.get(CACHE_DIR_KEY):
        properties["CACHE_DIR"] = str(device.config[CACHE_DIR_KEY])  # the cell's compiled-model cache (worker)
    return properties


def _check_capability(name: str, precision: str) -> None:
    core = openvino.Core()
    physical = [d for d in name.split(":", 1)[-1].split(",") if d and d.split(".", 1)[0] not in VIRTUAL_PREFIXES]
    for dev in physical or list(core.available_devices):
        try:
            capabilities = [str(c) for c in core.get_property(dev, "OPTIMIZATION_CAPABILITIES")]
        except Exception:
            continue
        if CAPABILITY[precision] not in capabilities:
            raise nx.refuse(FRAMEWORK_OV_GENAI, precision,
                            f"OpenVINO {dev} lists no {CAPABILITY[precision]} in OPTIMIZATION_CAPABILITIES "
                            f"({', '.join(capabilities)}); asked anyway it would run another precision",
                            "run with precision default or f32")


def _plain(value: Any) -> Any:
    """An OpenVINO property value as JSON: Types by name, enums by name, lists as lists."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float, str)):
        return value
    text = str(value)
    if text.startswith("<Type: "):
        return text.split("'")[1]
    return text.rsplit(".", 1)[-1] if "." in text and " " not in text else text


def read_compiled(compiled: Any) -> dict[str, Any]:
    """The READBACK_KEYS a compiled model answers, as JSON values."""
    values: dict[str, Any] = {}
    for key in READBACK_KEYS:
        try:
            values[key] = _plain(compiled.get_property(key))
        except Exception:
            continue
    return values


def _probe_model() -> Any:
    """A one-MatMul f32 model: compiled with a pipeline's properties, it reads back what the plugin resolves."""
    param = ops.parameter([1, 16], np.float32, name="x")
    weight = ops.constant(np.ones((16, 16), dtype=np.float32))
    return openvino.Model([ops.relu(ops.matmul(param, weight, False, False))], [param], "numerics_probe")


def runtime_options(model_xml: Path) -> dict[str, str]:
    """The ``rt_info/runtime_options`` an exported IR carries (OpenVINO applies them unless the caller overrides)."""
    try:
        return dict(wp.ov_ir_facts(model_xml).runtime_options)
    except (OSError, ET.ParseError):
        return {}


def resolved_readback(device_name: str, properties: Mapping[str, Any], model_xml: Path) -> dict[str, Any]:
    """What an openvino-genai pipeline compiled ``model_xml`` with, where the pipeline hides its compiled model.

    LLMPipeline and Text2ImagePipeline expose no compiled model. The plugin's resolution is read back by
    compiling a one-MatMul probe with the same properties on the same device, plus the IR's own
    ``runtime_options`` (e.g. KV_CACHE_PRECISION) where the caller set nothing, as OpenVINO applies them. The
    probe never goes into the pipeline's CACHE_DIR (that folder holds the pipeline's compiled model only).
    tests/test_numerics_real.py checks this against a direct compile of the bundled models.
    """
    plain = {k: v for k, v in properties.items() if isinstance(k, str) and k.isupper() and k != "CACHE_DIR"}
    from_model = {k: v for k, v in runtime_options(model_xml).items() if k in READBACK_KEYS and k not in plain}
    compiled = openvino.Core().compile_model(_probe_model(), device_name, {**from_model, **plain})
    return read_compiled(compiled)


def numerics_from(values: Mapping[str, Any], weights: Counter[str], source: str, runtime: str,
                  extra: Mapping[str, Any] | None = None, *, package: str = "openvino.genai",
                  schemes: wp.WeightPrecision | None = None) -> nx.Numerics:
    """The Numerics of read-back property ``values`` (see :data:`READBACK_KEYS`), the model's weight counts and
    ``schemes``, its weights by quantization scheme (``weight_precision.model_weight_precision``).

    The KV-cache precision is OpenVINO's KV_CACHE_PRECISION read back (u8 by default on CPUs that have it)."""
    precision = values.get("INFERENCE_PRECISION_HINT")
    threads = values.get("INFERENCE_NUM_THREADS")
    kv_cache = values.get("KV_CACHE_PRECISION")
    scheme = schemes or wp.WeightPrecision()
    details = {**values, "source": source, "runtime": runtime, "weight_elements": dict(weights),
               "weight_precision": scheme.to_dict(), **(extra or {})}
    return nx.Numerics(precision=nx.normalize_precision(precision) if precision is not None else None,
                       threads=int(threads) if isinstance(threads, int) else None,
                       weight_dtypes=nx.weight_dtypes(weights), details=details, runtime=package,
                       weight_precision=scheme.label(),
                       kv_cache_precision=nx.kv_cache_word(kv_cache))


PROBE_SOURCE = ("openvino: a probe model compiled with the pipeline's properties on its device, then the IR's "
                "rt_info runtime_options (openvino-genai exposes no compiled model)")
"""The ``source`` of numerics read back through :func:`resolved_readback`."""


def runtime_precisions(compiled: Any) -> dict[str, int]:
    """How many compute layers (convolutions, matrix products) of the executed graph ran at each precision."""
    counts: Counter[str] = Counter()
    try:
        for op in compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if "runtimePrecision" in info and "layerType" in info and str(info["layerType"].astype(str)) in (
                    "Convolution", "FullyConnected", "MatMul", "GroupConvolution", "Deconvolution"):
                counts[nx.normalize_precision(info["runtimePrecision"].astype(str))] += 1
    except Exception:  # not every plugin exposes an execution graph
        return {}
    return dict(counts)
