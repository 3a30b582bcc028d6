"""onnxruntime's execution providers as the harness knows them, without importing onnxruntime.

The device kind and label of each client-hardware EP, the OpenVINO EP's device types, and how one
``OrtEpDevice`` is named across processes. Both the backend (which lists devices) and its pipelines
(which find the live EP device again) read them here.
"""

from __future__ import annotations

from typing import Any

from genai_harness.backends.compile_cache import CACHE_MECHANISM_KEY, EPCONTEXT, PROVIDER_OPTION

EP_KINDS: dict[str, tuple[str, str]] = {
    "CPUExecutionProvider": ("CPU", ""),
    "CUDAExecutionProvider": ("GPU", "CUDA"),
    "TensorrtExecutionProvider": ("GPU", "TensorRT"),
    "NvTensorRTRTXExecutionProvider": ("GPU", "TensorRTRTX"),
    "DmlExecutionProvider": ("GPU", "DML"),
    "WebGpuExecutionProvider": ("GPU", "WebGPU"),
    "MIGraphXExecutionProvider": ("GPU", "MIGraphX"),
    "OpenVINOExecutionProvider": ("NPU", "OpenVINO"),  # CPU/GPU/NPU per device_type
    "QNNExecutionProvider": ("NPU", "QNN"),
    "VitisAIExecutionProvider": ("NPU", "VitisAI"),
    "CoreMLExecutionProvider": ("NPU", "CoreML"),
}
"""Execution providers of client hardware: (device type, short label). The CPU EP has no label."""

OPENVINO_EP = "OpenVINOExecutionProvider"
OPENVINO_EP_DEVICE_TYPES = ("CPU", "GPU", "NPU")
CACHING_EPS: dict[str, dict[str, Any]] = {OPENVINO_EP: {PROVIDER_OPTION: "cache_dir"}}
"""EPs that compile, and how each is given its cache folder (see :mod:`genai_harness.backends.compile_cache`): the
OpenVINO EP compiled into onnxruntime-openvino, and the same EP loaded as a plugin library. A target's own
``compile_cache`` config entry (a plugin EP's, say ``{"epcontext": true}``) wins."""


def ep_device_key(ep_device: Any) -> dict[str, Any]:
    """What identifies one ``OrtEpDevice`` across processes (the object itself cannot travel)."""
    hw = ep_device.device
    return {"ep_name": ep_device.ep_name, "type": str(hw.type).rsplit(".", 1)[-1],
            "vendor_id": int(hw.vendor_id), "device_id": int(hw.device_id)}


def ep_cache_mechanism(ep_name: str, config: Any) -> dict[str, Any] | None:
    """How the EP of a Device config caches what it compiles (None: it does not): the config's own
    ``compile_cache`` entry, else the EP's in :data:`CACHING_EPS`."""
    own = config.get(CACHE_MECHANISM_KEY) if hasattr(config, "get") else None
    if isinstance(own, dict) and (own.get(PROVIDER_OPTION) or own.get(EPCONTEXT)):
        return dict(own)
    known = CACHING_EPS.get(ep_name)
    return dict(known) if known else None
