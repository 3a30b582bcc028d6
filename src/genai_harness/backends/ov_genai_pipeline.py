"""openvino-genai and openvino behind the interface (imported only when a pipeline is built)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openvino
import openvino_genai as ovg

from genai_harness import classification, text2image, text2text
from genai_harness.errors import DeviceMismatchError, DeviceUnavailableError, ModelError
from genai_harness.interface import FRAMEWORK_OV_GENAI, Device

VIRTUAL_PREFIXES = ("AUTO", "HETERO", "MULTI", "BATCH")


def device_string(device: Device) -> str:
    """The OpenVINO device string of a Device, checked against what the runtime sees."""
    name = str(device.config.get("device", device.identifier))
    if name.split(":", 1)[0] not in VIRTUAL_PREFIXES:
        present = openvino.Core().available_devices
        if name not in present:
            raise DeviceUnavailableError(f"OpenVINO has no device {name!r} here; available_devices = {present}")
    return name


def _properties(device: Device) -> dict[str, Any]:
    return dict(device.config.get("properties", {}))


def _mean(value: Any) -> float:
    """openvino-genai answers with a MeanStdPair or a bare float, depending on the metric."""
    return float(getattr(value, "mean", value))


class OVText2TextPipeline(text2text.Pipeline):
    """An OpenVINO IR LLM folder (``openvino_model.xml`` + tokenizer IRs) through ``LLMPipeline``."""

    framework = FRAMEWORK_OV_GENAI

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        missing = [f for f in ("openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml")
                   if not (model_path / f).is_file()]
        if missing:
            raise ModelError(f"{model_path} is not an OpenVINO GenAI LLM folder: missing {', '.join(missing)}")
        self.actual_device = device_string(device)
        properties = _properties(device)
        if "scheduler_config" not in properties:
            # LLMPipeline reuses a repeated prompt's KV cache across generate calls by default, so a
            # benchmark's second call would skip prefill (TTFT 1 ms instead of 100 ms for 1024 tokens
            # on the tiny model). Every call must pay for its prompt, as on the other runtimes.
            scheduler = ovg.SchedulerConfig()
            scheduler.enable_prefix_caching = False
            properties["scheduler_config"] = scheduler
        try:
            self._pipe = ovg.LLMPipeline(str(model_path), self.actual_device, **properties)
        except Exception as exc:
            raise ModelError(f"openvino-genai cannot load {model_path} on {self.actual_device}: {exc}") from exc
        self._tokenizer = self._pipe.get_tokenizer()
        self._ov_configs: dict[text2text.GenerationConfig, Any] = {}
        self._context_length = _read_context_length(model_path)

    def _encode(self, text: str) -> list[int]:
        encoded = self._tokenizer.encode(text, add_special_tokens=False)
        return [int(t) for t in np.asarray(encoded.input_ids.data).reshape(-1)]

    def _decode(self, token_ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(token_ids), skip_special_tokens=True)) if token_ids else ""

    def _ov_config(self, config: text2text.GenerationConfig) -> Any:
        """openvino-genai's config for ours, built once per config (kept out of the timed call)."""
        if config not in self._ov_configs:
            self._ov_configs[config] = self._build_ov_config(config)
        return self._ov_configs[config]

    def _build_ov_config(self, config: text2text.GenerationConfig) -> Any:
        gen = self._pipe.get_generation_config()
        gen.max_new_tokens = config.max_new_tokens
        gen.min_new_tokens = config.min_new_tokens
        gen.ignore_eos = config.min_new_tokens >= config.max_new_tokens
        gen.do_sample = config.sampling.do_sample
        gen.num_beams = 1
        gen.apply_chat_template = False
        if config.eos_token_ids:
            gen.stop_token_ids = set(config.eos_token_ids)
        if config.stop_strings:
            gen.stop_strings = set(config.stop_strings)
        if config.sampling.do_sample:
            gen.temperature, gen.top_k, gen.top_p = (config.sampling.temperature, config.sampling.top_k,
                                                     config.sampling.top_p)
            gen.rng_seed = config.sampling.rng_seed
        return gen

    def _generate_ids(self, input_ids: list[int], config: text2text.GenerationConfig,
                      on_token: text2text.TokenCallback) -> dict[str, Any]:
        if self._context_length and len(input_ids) + config.max_new_tokens > self._context_length:
            # openvino-genai would silently run past the trained context; onnxruntime-genai refuses (same error).
            raise ModelError(
                f"prompt of {len(input_ids)} tokens + {config.max_new_tokens} new exceeds the model's context "
                f"of {self._context_length} tokens"
            )
        tensor = openvino.Tensor(np.asarray([input_ids], dtype=np.int64))
        result = self._pipe.generate(tensor, self._ov_config(config), _IdStreamer(on_token))
        pm = result.perf_metrics
        return {
            "ov_ttft_ms": _mean(pm.get_ttft()),
            "ov_tpot_ms": _mean(pm.get_tpot()),
            "ov_throughput_tps": _mean(pm.get_throughput()),
            "ov_generate_ms": _mean(pm.get_generate_duration()),
            "ov_inference_ms": _mean(pm.get_inference_duration()),
            "ov_num_generated_tokens": int(pm.get_num_generated_tokens()),
            "ov_num_input_tokens": int(pm.get_num_input_tokens()),
            "ov_load_ms": float(pm.get_load_time()),
        }


def _read_context_length(model_path: Path) -> int:
    """``max_position_embeddings`` of the exported model's config.json (0 when unknown)."""
    import json

    try:
        data = json.loads((model_path / "config.json").read_text())
        return int(data.get("max_position_embeddings", 0) or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


class _IdStreamer(ovg.StreamerBase):
    """Hands each new token id to the harness the moment openvino-genai has it."""

    def __init__(self, on_token: text2text.TokenCallback) -> None:
        super().__init__()
        self._on_token = on_token

    def write(self, token: Any) -> Any:
        if isinstance(token, (list, tuple)):
            for t in token:
                self._on_token(int(t))
        else:
            self._on_token(int(token))
        return ovg.StreamingStatus.RUNNING

    def end(self) -> None:
        return None


class NumpyLatentGenerator(ovg.Generator):
    """Initial latents from numpy's ``default_rng(seed).standard_normal``.

    The onnxruntime backend draws its latents the same way, so with one seed both runtimes start
    from identical noise and their images can be compared pixel by pixel.
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        self._rng = np.random.default_rng(seed)

    def next(self) -> float:
        return float(self._rng.standard_normal(dtype=np.float32))

    def randn_tensor(self, shape: Any) -> openvino.Tensor:
        return openvino.Tensor(self._rng.standard_normal(tuple(shape), dtype=np.float32))


class OVText2ImagePipeline(text2image.Pipeline):
    """An openvino-genai Text2Image folder (``model_index.json`` + component IRs)."""

    framework = FRAMEWORK_OV_GENAI

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        if not (model_path / "model_index.json").is_file():
            raise ModelError(f"{model_path} is not an OpenVINO GenAI text-to-image folder: model_index.json is missing")
        self.actual_device = device_string(device)
        try:
            self._pipe = ovg.Text2ImagePipeline(str(model_path), self.actual_device, **_properties(device))
        except Exception as exc:
            raise ModelError(f"openvino-genai cannot load {model_path} on {self.actual_device}: {exc}") from exc

    def _generate(self, prompt: str, config: text2image.GenerationConfig,
                  on_step: text2image.StepCallback) -> tuple[np.ndarray, dict[str, Any]]:
        def callback(step: int, num_steps: int, latent: Any) -> bool:
            on_step(step)
            return False

        image = self._pipe.generate(
            prompt,
            width=config.image_width,
            height=config.image_height,
            num_inference_steps=config.num_inference_steps,
            num_images_per_prompt=config.num_images_per_prompt,
            guidance_scale=config.guidance_scale,
            generator=NumpyLatentGenerator(config.rng_seed),
            callback=callback,
        )
        pm = self._pipe.get_performance_metrics()
        native = {"ov_load_ms": float(pm.get_load_time()), "ov_generate_ms": _mean(pm.get_generate_duration())}
        try:
            native["ov_unet_ms"] = _mean(pm.get_unet_infer_duration())
            native["ov_vae_decoder_ms"] = _mean(pm.get_vae_decoder_infer_duration())
        except Exception:  # not every pipeline fills every metric
            pass
        return np.asarray(image.data).copy(), native


class OVClassificationPipeline(classification.Pipeline):
    """A plain ONNX image model compiled by OpenVINO."""

    framework = FRAMEWORK_OV_GENAI

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        core = openvino.Core()
        self.actual_device = device_string(device)
        try:
            model = core.read_model(str(model_path))
            self._compiled = core.compile_model(model, self.actual_device, _properties(device))
        except Exception as exc:
            raise ModelError(f"OpenVINO cannot load {model_path}: {exc}") from exc
        executed = [str(d) for d in self._compiled.get_property("EXECUTION_DEVICES")]
        if self.actual_device.split(":", 1)[0] not in VIRTUAL_PREFIXES and self.actual_device not in executed:
            raise DeviceMismatchError(
                f"OpenVINO was asked for {self.actual_device} but EXECUTION_DEVICES = {executed}"
            )
        self.execution_devices = executed
        self.actual_device = ",".join(executed)  # what AUTO/HETERO really chose
        shape = self._compiled.input(0).get_partial_shape()
        self._input_shape = tuple(int(d.get_length()) if d.is_static else 224 for d in list(shape)[1:])
        self._request = self._compiled.create_infer_request()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._input_shape

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] != 1 and self._compiled.input(0).get_partial_shape()[0].is_static:
            # A model with a static batch of 1 runs item by item; the batch is still timed whole.
            return np.concatenate([self._infer(batch[i : i + 1]) for i in range(batch.shape[0])])
        return np.asarray(self._request.infer({0: batch})[self._compiled.output(0)]).copy()
