"""Numerics: what a cell asks for (precision, threads) and what the runtime read back after load.

A backend reads the request from its Device's config (``precision``, ``threads``; the cell puts them
there), applies it where its runtime can, reads back what the runtime really runs with and hands it
over as a :class:`Numerics`. :func:`check_honoured` then refuses a cell whose read-back differs from
the request, so that nothing runs under a name it did not earn.

Weight dtypes are read from the model files themselves (:mod:`genai_harness.backends.model_dtypes`);
:func:`stored_precision` names the precision they amount to. What the weights are for compute (int4 for
``MatMulNBits bits=4``, OpenVINO's u4 group 128 ...) is :mod:`genai_harness.backends.weight_precision`'s
``weight_precision``; with the compute ``precision`` and the ``kv_cache_precision`` they are the three
precisions of a row (DESIGN.md "Concepts the open issues add").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from genai_harness.backends.model_dtypes import (  # noqa: F401 - the backends' one import for numerics
    WEIGHT_LIKE,
    model_files,
    onnx_weight_elements,
    weight_dtypes,
)
from genai_harness.backends.weight_precision import (  # noqa: F401 - re-exported, as above
    WeightPrecision,
    model_weight_elements,
    ov_ir_weight_elements,
)
from genai_harness.errors import ConfigurationError, NumericsError

PRECISIONS = ("default", "f32", "bf16", "f16", "int8")
"""What a workload, the CLI or the API may ask for; ``default`` is what the runtime picks (what a deployer gets).

``int8`` is a compute precision too: onnxruntime's ``MatMulNBits`` at ``accuracy_level`` 4 quantizes its
activations to int8, so an int4 model built so runs at int8 and a refusal of f32 advises it."""
ACCURACY_LEVELS = {1: "f32", 2: "f16", 3: "bf16", 4: "int8"}
"""onnxruntime ``MatMulNBits`` ``accuracy_level`` -> the precision it computes in (0: unset, the input's type)."""

PRECISION_KEY = "precision"
THREADS_KEY = "threads"

_WORDS = {
    "f32": "f32", "fp32": "f32", "float32": "f32", "float": "f32",
    "bf16": "bf16", "bfloat16": "bf16",
    "f16": "f16", "fp16": "f16", "float16": "f16", "half": "f16",
    "int8": "int8", "i8": "int8", "u8": "int8", "uint8": "int8", "uint8_t": "int8", "int8_t": "int8",
    "int4": "int4", "i4": "int4", "u4": "int4", "uint4": "int4",
    "u8_t": "int8",
}


def normalize_precision(word: object) -> str:
    """``f32|bf16|f16|int8|int4`` for the runtimes' many spellings; the runtime's own word (lowercase) otherwise.

    OpenVINO answers ``<Type: 'bfloat16'>`` and the like: the quoted name is taken.
    """
    text = str(word).strip()
    if "'" in text:
        text = text.split("'")[1]
    return _WORDS.get(text.lower(), text.lower())


_ELEMENT_WORDS = {"uint8_t": "u8", "uint8": "u8", "int8_t": "i8", "int8": "i8", "uint4_t": "u4", "int4_t": "i4",
                  "uint4": "u4", "int4": "i4"}


def kv_cache_word(word: object) -> str | None:
    """A KV-cache element type: f32/f16/bf16 for floats, else the runtime's integer type kept exact (u8, i8, u4):
    OpenVINO's u8 cache is asymmetric, with zero points, which ``int8`` would hide."""
    if word is None or str(word).strip() == "":
        return None
    text = str(word).strip()
    if "'" in text:
        text = text.split("'")[1]
    normal = normalize_precision(text)
    return normal if normal in ("f32", "f16", "bf16") else _ELEMENT_WORDS.get(text.lower(), text.lower())


def stored_precision(counts: Mapping[str, int]) -> str | None:
    """The precision a runtime that runs the model's own types computes in: its dominant weight type.

    ``counts`` are element counts per dtype (:func:`model_weight_elements`).
    """
    weights = {k: v for k, v in counts.items() if k in WEIGHT_LIKE}
    if not weights:
        return None
    return normalize_precision(max(weights, key=lambda k: weights[k]))


def onnx_compute_precision(weights: WeightPrecision, inputs: Mapping[str, str]) -> str | None:
    """The precision onnxruntime computes an ONNX model in (pure).

    A model dominated by ``MatMulNBits`` computes at its ``accuracy_level`` (4: int8 activations); otherwise
    in the float type of its activations: its float inputs (past key/values, embeddings), else its float weights.
    """
    top = weights.dominant()
    if top is None:
        return None
    level = weights.extra.get("accuracy_level")
    if top.storage == "MatMulNBits" and level in ACCURACY_LEVELS:
        return ACCURACY_LEVELS[level]
    floats = [d for d in inputs.values() if d in ("f32", "f16", "bf16")]
    if floats:
        return max(set(floats), key=floats.count)
    by_float = {s.precision: n for s, n in weights.schemes.items() if s.storage == ""}
    if not by_float:
        return normalize_precision(top.precision)
    return normalize_precision(max(by_float, key=lambda k: by_float[k]))


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
    runtime: str = ""
    """The runtime that executed the model (the ``runtime`` column), where it is not the backend's framework:
    OpenVINO's classification runs on ``openvino`` (openvino.Core), not openvino-genai."""
    weight_precision: str | None = None
    """What the weights are for compute (``int4 asym, block 32 (MatMulNBits)``, ``float32``): the column."""
    kv_cache_precision: str | None = None
    """The KV cache's element type, normalized (f32, f16, int8 ...); None where the model has none."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (crosses the worker boundary)."""
        return {"precision": self.precision, "threads": self.threads, "weight_dtypes": self.weight_dtypes,
                "details": self.details, "runtime": self.runtime, "weight_precision": self.weight_precision,
                "kv_cache_precision": self.kv_cache_precision}


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
        plugin_device = dict(config.get("ep_metadata") or {}).get("ov_device", "CPU")  # a plugin's OrtEpDevice
        device_type = str(dict(config.get("provider_options", {})).get("device_type", plugin_device))
        kind = device_type.split(":")[-1].split(",")[0].split(".")[0].split("_")[0]
        return OPENVINO_EP_DEFAULT_PRECISION.get(kind, "?") + " (EP default)"
    if config.get("virtual"):
        return "per device"
    return "model's own"


def default_kv_cache(device: Any) -> str:
    """A device's KV-cache precision when nothing is asked, for ``genai-harness devices``.

    OpenVINO devices: the plugin's KV_CACHE_PRECISION, read at enumeration (a model's rt_info may override it,
    which each row's ``kv_cache_precision`` reads back). Every other runtime: the model's own past key/value type.
    """
    config = dict(getattr(device, "config", {}) or {})
    kv = kv_cache_word(dict(config.get("ov_properties", {})).get("KV_CACHE_PRECISION"))
    if kv:
        return kv
    return "per device" if config.get("virtual") else "model's own"


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
                            f"(read back after load); run with {advice(numerics.precision)}")
    if threads is not None and numerics.threads != threads:
        raise NumericsError(f"{framework} was asked for {threads} threads but runs {numerics.threads} "
                            "(read back after load)")


def default_threads() -> int:
    """onnxruntime's default intra-op thread count: one per physical core (of the cores this process may use)."""
    try:
        physical = psutil.cpu_count(logical=False) or 0
    except Exception:  # psutil cannot read the topology on every platform
        physical = 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(physical or usable, usable))


def advice(actual: str | None) -> str:
    """``precision default or X``, naming X only where ``--precision`` accepts it (a refusal advises nothing else)."""
    return f"precision default or {actual}" if actual in PRECISIONS and actual != "default" else "precision default"


def refuse(framework: str, precision: str, why: str, fix: str) -> NumericsError:
    """The error of a runtime that cannot honour ``precision``: what, why, and what to do instead."""
    return NumericsError(f"{framework} cannot run at precision {precision}: {why}; {fix}")
