"""onnxruntime sessions behind the interface (imported only when a pipeline is built)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import _pybind_state as capi

from genai_harness.backends import euler_scheduler as euler
from genai_harness.backends import numerics as nx
from genai_harness.backends.base import first_line, refuses_operators
from genai_harness.backends.clip_tokenizer import ClipTokenizer
from genai_harness.backends.compile_cache import CACHE_DIR_KEY, EPCONTEXT, PROVIDER_OPTION
from genai_harness.backends.ep_plugins import FALLBACK_OFF, find_registration
from genai_harness.backends.ort_placement import create_placed_session
from genai_harness.backends.ort_providers import OPENVINO_EP, ep_cache_mechanism, ep_device_key
from genai_harness.backends.weight_precision import model_weight_precision
from genai_harness.errors import DeviceMismatchError, DeviceUnavailableError, ModelError, OperatorsNotSupportedError
from genai_harness.interface import classification, text2image
from genai_harness.interface.devices import FRAMEWORK_ORT, Device


def create_session(model_file: Path, device: Device) -> ort.InferenceSession:
    """A session on the device's execution provider, refused if the runtime silently fell back."""
    if not model_file.is_file():
        raise ModelError(f"model file {model_file} does not exist")
    ep = str(device.config.get("execution_provider", "CPUExecutionProvider"))
    options = {str(k): str(v) for k, v in dict(device.config.get("provider_options", {})).items()}
    precision, threads = nx.requested(device.config)
    if ep == OPENVINO_EP and precision == "f32":
        options["precision"] = "FP32"
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads is not None:
        so.intra_op_num_threads = threads
    model_file = _apply_cache(model_file, device, ep, options, so)
    providers: list[Any] | None = None
    plugin = device.config.get("ep_library")
    if plugin:  # a plugin EP: its library registered in this process, and no node may run on the CPU EP
        registration = find_registration(ort, dict(plugin))
        if registration.error:
            raise DeviceUnavailableError(f"{device.label}: {registration.error}")
        so.add_session_config_entry(FALLBACK_OFF, "1")
    if device.config.get("use_ep_devices"):
        so.add_provider_for_devices([_ep_device(device)], options)  # the get_ep_devices() path
    else:
        providers = [(ep, options)] if ep != "CPUExecutionProvider" else []
        providers.append("CPUExecutionProvider")
    placement = None
    try:
        if ep == "CPUExecutionProvider":
            session = ort.InferenceSession(str(model_file), sess_options=so, providers=providers)
        else:  # the runtime's own report of where the nodes went (its verbose log: backends/ort_placement.py)
            session, placement = create_placed_session(str(model_file), so, providers)
    except Exception as exc:
        where = f"{ep} from {plugin.get('package') or plugin.get('path')} (CPU fallback off)" if plugin else ep
        refusal = OperatorsNotSupportedError if refuses_operators(str(exc)) else ModelError
        raise refusal(f"onnxruntime cannot load {model_file} with {where}: {first_line(exc)}") from exc
    session.genai_harness_placement = placement
    actual = session.get_providers()
    if ep not in actual:
        raise DeviceMismatchError(
            f"asked for {device.label} ({ep} {options or ''}) but onnxruntime runs {model_file.name} on "
            f"{actual[0] if actual else 'nothing'} (session.get_providers() = {actual})"
        )
    if ep == OPENVINO_EP and not plugin:  # the plugin's device is the OrtEpDevice it offered, never a guess
        _check_openvino_device(options.get("device_type", "CPU"), device)
    return session


def _apply_cache(model_file: Path, device: Device, ep: str, options: dict[str, str], so: ort.SessionOptions) -> Path:
    """Point the EP at the cell's compiled-model cache (worker-set ``compile_cache_dir``) and give the model file to
    load: the EPContext model the EP wrote there on an earlier load, where it caches that way, else ``model_file``."""
    folder = device.config.get(CACHE_DIR_KEY)
    mechanism = ep_cache_mechanism(ep, device.config) if folder else None
    if mechanism is None:
        return model_file
    if mechanism.get(PROVIDER_OPTION):
        options[str(mechanism[PROVIDER_OPTION])] = str(folder)
        return model_file
    if not mechanism.get(EPCONTEXT):
        return model_file
    context = Path(str(folder)) / f"{model_file.parent.name}_{model_file.stem}_ctx.onnx"
    if context.is_file():
        return context  # warm: the compiled EPContext model (a failure to load it is the cache's, told by the worker)
    so.add_session_config_entry("ep.context_enable", "1")
    so.add_session_config_entry("ep.context_file_path", str(context))
    return model_file


def session_numerics(sessions: list[ort.InferenceSession], files: list[Path], device: Device) -> nx.Numerics:
    """What the sessions run with, read back from them, refusing a precision they cannot run at.

    onnxruntime has no precision switch: an EP runs the model's own types (the dominant weight dtype),
    except the OpenVINO EP, whose ``precision`` option (FP32/FP16/ACCURACY) picks OpenVINO's.
    """
    first = sessions[0]
    providers = first.get_providers()
    options = first.get_session_options()
    counts = nx.model_weight_elements(files)
    stored = nx.stored_precision(counts)
    ep = providers[0] if providers else ""
    asked_options = {str(k): str(v) for k, v in dict(device.config.get("provider_options", {})).items()}
    precision, _threads = nx.requested(device.config)
    if ep == OPENVINO_EP:
        ov_device = dict(device.config.get("ep_metadata") or {}).get("ov_device", "CPU")  # a plugin's OrtEpDevice
        device_type = asked_options.get("device_type", ov_device).split(":")[-1].split(",")[0].split("_")[0]
        word = asked_options.get("precision", "")
        if precision == "f32":
            word = "FP32"
        actual = {"FP32": "f32", "FP16": "f16", "ACCURACY": stored}.get(word.upper(),
                                                                         nx.OPENVINO_EP_DEFAULT_PRECISION.get(device_type))
        source = ("onnxruntime: session providers and options; precision: the OpenVINO EP's precision option, or its "
                  "documented default for the device_type (the EP offers no read-back)")
        if precision in ("bf16", "f16") and actual != precision:
            raise nx.refuse(FRAMEWORK_ORT, precision, f"the OpenVINO EP on {device_type} offers precision FP32 or "
                            "ACCURACY only (provider option 'precision')", "run with precision default or f32")
    else:
        actual = stored
        source = f"onnxruntime: session providers and options; {ep} runs the model's own types"
        if precision != "default" and precision != stored:
            raise nx.refuse(FRAMEWORK_ORT, precision, f"{ep or 'the EP'} runs the model's own types and this model "
                            f"stores {stored} weights ({nx.weight_dtypes(counts)})",
                            f"export the model in {precision} or run with precision default or {stored}")
    intra = int(options.intra_op_num_threads)
    details = {
        "providers": providers,
        "provider_options": {k: v for k, v in first.get_provider_options().items() if k in providers},
        "requested_provider_options": asked_options,
        "intra_op_num_threads": intra,
        "inter_op_num_threads": int(options.inter_op_num_threads),
        "execution_mode": str(options.execution_mode).rsplit(".", 1)[-1],
        "graph_optimization_level": str(options.graph_optimization_level).rsplit(".", 1)[-1],
        "source": source + ("" if intra else "; intra_op_num_threads 0 = onnxruntime's default, one per physical "
                            "core"),
        "runtime": "onnxruntime",
        "weight_elements": dict(counts),
    }
    if device.config.get("ep_library"):
        details["ep_library"] = dict(device.config["ep_library"])
        details["cpu_ep_fallback"] = "off" if options.get_session_config_entry(FALLBACK_OFF) == "1" else "on"
    placement = getattr(first, "genai_harness_placement", None)
    if placement is not None:  # nodes per EP after partitioning, and the op types left on the CPU EP
        details["ep_nodes"], details["ep_cpu_ops"] = dict(placement.nodes), dict(placement.cpu_ops)
    weights, _inputs = model_weight_precision(files)
    details["weight_precision"] = weights.to_dict()
    return nx.Numerics(precision=actual, threads=intra or nx.default_threads(), weight_dtypes=nx.weight_dtypes(counts),
                       details=details, runtime="onnxruntime", weight_precision=weights.label())


def _ep_device(device: Device) -> Any:
    """The live ``OrtEpDevice`` a Device was enumerated from."""
    wanted = device.config.get("ep_device")
    for candidate in ort.get_ep_devices():
        if ep_device_key(candidate) == wanted:
            return candidate
    raise DeviceUnavailableError(f"onnxruntime no longer offers the EP device {wanted} of {device.label} "
                                 f"(get_ep_devices() = {[ep_device_key(d) for d in ort.get_ep_devices()]})")


def _check_openvino_device(device_type: str, device: Device) -> None:
    """The OpenVINO EP accepts any device_type and silently runs on the CPU EP when it lacks it."""
    present = list(capi.get_available_openvino_device_ids())
    if device_type in ("AUTO", "HETERO", "MULTI") and present:
        return  # a bare virtual device: OpenVINO schedules on the devices it has (the EP ran, get_providers says)
    wanted = device_type.split(":", 1)[-1].split(",") if ":" in device_type else [device_type]
    missing = [d for d in wanted if d.split("_", 1)[0] not in present]
    if missing:
        raise DeviceMismatchError(
            f"asked for {device.label} (OpenVINO EP device_type={device_type}) but the OpenVINO EP sees only "
            f"{present}; the session would silently run on the CPU EP"
        )


class OrtClassificationPipeline(nx.ReadsNumerics, classification.Pipeline):
    """One ONNX image model in one session."""

    framework = FRAMEWORK_ORT

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        self._session = create_session(model_path, device)
        first = self._session.get_inputs()[0]
        self._input_name = first.name
        self._static_batch = isinstance(first.shape[0], int) and first.shape[0] == 1
        self._input_shape = tuple(d if isinstance(d, int) else 224 for d in first.shape[1:])
        self.model_batch = first.shape[0] if isinstance(first.shape[0], int) else None
        self.actual_device = self._session.get_providers()[0]
        self._numerics_reader = lambda: session_numerics([self._session], [model_path], device)
        if nx.requested(device.config)[0] != "default":
            _ = self.numerics  # a precision it cannot run at is refused now, not later

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._input_shape

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        if self._static_batch and batch.shape[0] != 1:
            # A model with a static batch of 1 runs item by item; the batch is still timed whole.
            return np.concatenate([self._infer(batch[i : i + 1]) for i in range(batch.shape[0])])
        return np.asarray(self._session.run(None, {self._input_name: batch})[0])


class OrtText2ImagePipeline(nx.ReadsNumerics, text2image.Pipeline):
    """Stable-Diffusion-shaped component sessions driven by a numpy Euler scheduler."""

    framework = FRAMEWORK_ORT

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        required = ["text_encoder/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx",
                    "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt"]
        missing = [r for r in required if not (model_path / r).is_file()]
        if missing:
            raise ModelError(f"{model_path} is not a Stable Diffusion ONNX folder: missing {', '.join(missing)}")
        self._text_encoder = create_session(model_path / "text_encoder/model.onnx", device)
        self._unet = create_session(model_path / "unet/model.onnx", device)
        self._vae = create_session(model_path / "vae_decoder/model.onnx", device)
        self._scheduler_config = json.loads((model_path / "scheduler/scheduler_config.json").read_text())
        self._tokenizer = ClipTokenizer.from_folder(model_path / "tokenizer")
        self._meta = _read_meta(model_path)
        self.actual_device = self._unet.get_providers()[0]
        files = [model_path / c / "model.onnx" for c in ("text_encoder", "unet", "vae_decoder")]
        self._numerics_reader = lambda: session_numerics([self._unet, self._text_encoder, self._vae], files, device)
        if nx.requested(device.config)[0] != "default":
            _ = self.numerics  # a precision it cannot run at is refused now, not later

    def _encode_prompt(self, prompt: str) -> np.ndarray:
        ids = np.asarray([self._tokenizer(prompt)], dtype=np.int64)
        feeds = {self._text_encoder.get_inputs()[0].name: ids.astype(_np_type(self._text_encoder.get_inputs()[0]))}
        return np.asarray(self._text_encoder.run(None, feeds)[0], dtype=np.float32)

    def _generate(self, prompt: str, config: text2image.GenerationConfig,
                  on_step: text2image.StepCallback) -> tuple[np.ndarray, dict[str, Any]]:
        n = config.num_images_per_prompt
        cfg = config.guidance_scale > 1.0
        text = self._encode_prompt(prompt)
        embeddings = np.concatenate([self._encode_prompt("")] * n + [text] * n) if cfg else np.concatenate([text] * n)
        schedule = euler.make_schedule(self._scheduler_config, config.num_inference_steps)
        channels, factor = self._meta["latent_channels"], self._meta["vae_scale_factor"]
        shape = (n, channels, config.image_height // factor, config.image_width // factor)
        latents = np.random.default_rng(config.rng_seed).standard_normal(shape, dtype=np.float32)
        latents = latents * np.float32(schedule.init_noise_sigma)
        unet_inputs = [i.name for i in self._unet.get_inputs()]
        t_type = _np_type(self._unet.get_inputs()[1])
        for step, t in enumerate(schedule.timesteps):
            sigma, sigma_next = float(schedule.sigmas[step]), float(schedule.sigmas[step + 1])
            model_in = euler.scale_model_input(np.concatenate([latents, latents]) if cfg else latents, sigma)
            timestep = np.full((model_in.shape[0],), t, dtype=t_type) if self._meta["timestep_is_batched"] \
                else np.asarray(t, dtype=t_type).reshape(self._meta["timestep_shape"])
            noise = np.asarray(self._unet.run(None, dict(zip(unet_inputs, [model_in, timestep, embeddings],
                                                             strict=True)))[0])
            if cfg:
                noise = euler.guided(noise[:n], noise[n:], config.guidance_scale)
            latents = euler.euler_step(latents, noise, sigma, sigma_next)
            on_step(step)
        vae_in = (latents / np.float32(self._meta["scaling_factor"])).astype(np.float32)
        image = np.asarray(self._vae.run(None, {self._vae.get_inputs()[0].name: vae_in})[0])
        return euler.to_uint8_nhwc(image), {}


def _np_type(node: Any) -> Any:
    return {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32,
            "tensor(float16)": np.float16}.get(node.type, np.float32)


def _read_meta(model_path: Path) -> dict[str, Any]:
    """Latent channels, VAE factors and the UNet timestep shape, from components.json or the graphs."""
    meta_file = model_path / "components.json"
    data = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    vae_cfg_file = model_path / "vae_decoder" / "config.json"
    vae_cfg = json.loads(vae_cfg_file.read_text()) if vae_cfg_file.is_file() else {}
    block_channels = vae_cfg.get("block_out_channels", [])
    timestep_shape = data.get("unet_timestep_shape", [1])
    return {
        "latent_channels": int(data.get("latent_channels", vae_cfg.get("latent_channels", 4))),
        "vae_scale_factor": int(data.get("vae_scale_factor", 2 ** (len(block_channels) - 1) if block_channels else 8)),
        "scaling_factor": float(data.get("vae_scaling_factor", vae_cfg.get("scaling_factor", 0.18215))),
        "timestep_shape": [int(d) if isinstance(d, int) else 1 for d in timestep_shape],
        "timestep_is_batched": bool(data.get("unet_timestep_batched", False)),
    }
