"""openvino-genai and openvino pipelines behind the interface (imported only when a pipeline is built).

Text generation (LLMPipeline), text-to-image (Text2ImagePipeline) and classification (openvino.Core);
what they compile with and read back is :mod:`genai_harness.backends.ov_genai_numerics`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openvino
import openvino_genai as ovg

from genai_harness.backends import numerics as nx
from genai_harness.backends.ov_genai_numerics import (
    PROBE_SOURCE,
    VIRTUAL_PREFIXES,
    compile_properties,
    numerics_from,
    read_compiled,
    resolved_readback,
    runtime_precisions,
)
from genai_harness.backends.weight_precision import model_weight_precision
from genai_harness.errors import (
    ContextLengthError,
    DeviceMismatchError,
    DeviceUnavailableError,
    GenerationError,
    ModelError,
)
from genai_harness.interface import classification, text2image, text2text
from genai_harness.interface.devices import FRAMEWORK_OV_GENAI, Device


def device_string(device: Device) -> str:
    """The OpenVINO device string of a Device, checked against what the runtime sees."""
    name = str(device.config.get("device", device.identifier))
    if name.split(":", 1)[0] not in VIRTUAL_PREFIXES:
        present = openvino.Core().available_devices
        if name not in present:
            raise DeviceUnavailableError(f"OpenVINO has no device {name!r} here; available_devices = {present}")
    return name


def fresh_prompt_scheduler() -> Any:
    """The ``SchedulerConfig`` every harness LLMPipeline loads with unless the device config brings its own: prefix
    caching off. LLMPipeline reuses a repeated prompt's KV cache across generate calls by default, so a benchmark's
    second call would skip prefill (TTFT 1 ms instead of 100 ms for 1024 tokens on the tiny model). Every call must
    pay for its prompt, as on the other runtimes."""
    scheduler = ovg.SchedulerConfig()
    scheduler.enable_prefix_caching = False
    return scheduler


def _mean(value: Any) -> float:
    """openvino-genai answers with a MeanStdPair or a bare float, depending on the metric."""
    return float(getattr(value, "mean", value))


class OVText2TextPipeline(nx.ReadsNumerics, text2text.Pipeline):
    """An OpenVINO IR LLM folder (``openvino_model.xml`` + tokenizer IRs) through ``LLMPipeline``."""

    framework = FRAMEWORK_OV_GENAI

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        missing = [f for f in ("openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml")
                   if not (model_path / f).is_file()]
        if missing:
            raise ModelError(f"{model_path} is not an OpenVINO GenAI LLM folder: missing {', '.join(missing)}")
        self.actual_device = device_string(device)
        properties = compile_properties(device)
        if "scheduler_config" not in properties:
            properties["scheduler_config"] = fresh_prompt_scheduler()
        try:
            self._pipe = ovg.LLMPipeline(str(model_path), self.actual_device, **properties)
        except Exception as exc:
            raise ModelError(f"openvino-genai cannot load {model_path} on {self.actual_device}: {exc}") from exc
        self._tokenizer = self._pipe.get_tokenizer()
        self._ov_configs: dict[text2text.GenerationConfig, Any] = {}
        self._context_length = _read_context_length(model_path)
        model_xml = model_path / "openvino_model.xml"
        self._numerics_reader = lambda: numerics_from(resolved_readback(self.actual_device, properties, model_xml),
                                                  nx.model_weight_elements([model_xml]), PROBE_SOURCE,
                                                  "openvino-genai LLMPipeline",
                                                  schemes=model_weight_precision([model_xml])[0])

    def _encode(self, text: str) -> list[int]:
        encoded = self._tokenizer.encode(text, add_special_tokens=False)
        return [int(t) for t in np.asarray(encoded.input_ids.data).reshape(-1)]

    def _decode(self, token_ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(token_ids), skip_special_tokens=True)) if token_ids else ""

    def chat_prompt(self, text: str) -> str | None:
        """The model's chat template (the tokenizer IR's, else tokenizer_config.json's) rendered by openvino-genai's
        tokenizer, as LLMPipeline.generate does by default (the harness turns that off and frames the text itself,
        so that both runtimes get the same ids)."""
        if not str(getattr(self._tokenizer, "chat_template", "") or ""):
            return None
        try:
            return str(self._tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                                           add_generation_prompt=True))
        except Exception as exc:
            raise ModelError(f"openvino-genai cannot render the model's chat template: {exc}; "
                             "run with --raw to send the prompt as it is") from exc

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

    def _check_context(self, n_input: int, config: text2text.GenerationConfig) -> None:
        if self._context_length and n_input + config.max_new_tokens > self._context_length:
            # openvino-genai would silently run past the trained context; onnxruntime-genai refuses (same error).
            raise ContextLengthError(
                f"prompt of {n_input} tokens + {config.max_new_tokens} new exceeds the model's context "
                f"of {self._context_length} tokens"
            )

    def _generate_ids(self, input_ids: list[int], config: text2text.GenerationConfig,
                      on_token: text2text.TokenCallback) -> dict[str, Any]:
        """The streaming path (Generator, stream()): a Python streamer hands over each id as it comes."""
        self._check_context(len(input_ids), config)
        tensor = openvino.Tensor(np.asarray([input_ids], dtype=np.int64))
        result = self._pipe.generate(tensor, self._ov_config(config), _IdStreamer(on_token))
        return _native(result.perf_metrics)

    def _generate_timed(self, input_ids: list[int], config: text2text.GenerationConfig,
                        call_start_ns: int) -> text2text.TimedGeneration:
        """The measured path: no Python streamer (a callback slows OpenVINO's own decode loop, by 21-25 %
        on the bundled tiny-llm); per-token times are openvino-genai's own ``raw_metrics.m_new_token_times``."""
        self._check_context(len(input_ids), config)
        tensor = openvino.Tensor(np.asarray([input_ids], dtype=np.int64))
        offset_ns = self.clock() - time.monotonic_ns()
        result = self._pipe.generate(tensor, self._ov_config(config))
        after_ns = self.clock()
        ids = [int(t) for t in np.asarray(result.tokens[0]).reshape(-1)]
        raw = result.perf_metrics.raw_metrics
        times_ms = list(raw.m_new_token_times)[:len(ids)]  # a stop string may drop the last tokens, not their times
        if len(times_ms) != len(ids):
            raise GenerationError(f"openvino-genai recorded {len(times_ms)} token times for {len(ids)} tokens")
        token_ns = [round(t * 1e6) + offset_ns for t in times_ms]
        source = "steady_clock"
        if token_ns and not call_start_ns <= token_ns[0] <= token_ns[-1] <= after_ns:
            # steady_clock is not this clock here: place the first token by OpenVINO's own TTFT instead.
            first = call_start_ns + int(next(iter(raw.m_times_to_first_token)) * 1e3)
            token_ns = [first + round((t - times_ms[0]) * 1e6) for t in times_ms]
            source = "ttft+deltas"
        native = _native(result.perf_metrics)
        native["token_times"] = f"openvino-genai raw_metrics.m_new_token_times ({source}), no streamer"
        return text2text.TimedGeneration(ids, token_ns, native)


def _native(pm: Any) -> dict[str, Any]:
    """openvino-genai's own PerfMetrics of one generate call."""
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


class OVText2ImagePipeline(nx.ReadsNumerics, text2image.Pipeline):
    """An openvino-genai Text2Image folder (``model_index.json`` + component IRs)."""

    framework = FRAMEWORK_OV_GENAI

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        if not (model_path / "model_index.json").is_file():
            raise ModelError(f"{model_path} is not an OpenVINO GenAI text-to-image folder: model_index.json is missing")
        self.actual_device = device_string(device)
        properties = compile_properties(device)
        try:
            self._pipe = ovg.Text2ImagePipeline(str(model_path), self.actual_device, **properties)
        except Exception as exc:
            raise ModelError(f"openvino-genai cannot load {model_path} on {self.actual_device}: {exc}") from exc
        components = [model_path / c / "openvino_model.xml" for c in ("text_encoder", "unet", "vae_decoder")]
        present = [c for c in components if c.is_file()]
        self._numerics_reader = lambda: numerics_from(
            resolved_readback(self.actual_device, properties, model_path / "unet" / "openvino_model.xml"),
            nx.model_weight_elements(present), PROBE_SOURCE, "openvino-genai Text2ImagePipeline",
            schemes=model_weight_precision(present)[0])

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


class OVClassificationPipeline(nx.ReadsNumerics, classification.Pipeline):
    """A plain ONNX image model compiled by OpenVINO (openvino.Core, not openvino-genai: ``numerics`` says so)."""

    framework = FRAMEWORK_OV_GENAI

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        core = openvino.Core()
        self.actual_device = device_string(device)
        properties = compile_properties(device)
        try:
            model = core.read_model(str(model_path))
            self._compiled = core.compile_model(model, self.actual_device, properties)
        except Exception as exc:
            raise ModelError(f"OpenVINO cannot load {model_path}: {exc}") from exc
        executed = [str(d) for d in self._compiled.get_property("EXECUTION_DEVICES")]
        if self.actual_device.split(":", 1)[0] not in VIRTUAL_PREFIXES and self.actual_device not in executed:
            raise DeviceMismatchError(
                f"OpenVINO was asked for {self.actual_device} but EXECUTION_DEVICES = {executed}"
            )
        self.execution_devices = executed
        self.actual_device = ",".join(executed)  # what AUTO/HETERO really chose
        if "CACHE_DIR" in properties:  # OpenVINO's own word on whether the compiled model came from the cache
            self.loaded_from_cache = bool(self._compiled.get_property("LOADED_FROM_CACHE"))
        shape = self._compiled.input(0).get_partial_shape()
        self._input_shape = tuple(int(d.get_length()) if d.is_static else 224 for d in list(shape)[1:])
        self._static_batch = shape[0].is_static
        self.model_batch = int(shape[0].get_length()) if shape[0].is_static else None
        self._request = self._compiled.create_infer_request()
        self._numerics_reader = lambda: numerics_from(
            read_compiled(self._compiled), nx.model_weight_elements([model_path]),
            "openvino: the compiled model's properties", "openvino (openvino.Core)",
            {"runtime_precisions": runtime_precisions(self._compiled)}, package="openvino",
            schemes=model_weight_precision([model_path])[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._input_shape

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] != 1 and self._static_batch:
            # A model with a static batch of 1 runs item by item; the batch is still timed whole.
            return np.concatenate([self._infer(batch[i : i + 1]) for i in range(batch.shape[0])])
        return np.asarray(self._request.infer({0: batch})[self._compiled.output(0)]).copy()


