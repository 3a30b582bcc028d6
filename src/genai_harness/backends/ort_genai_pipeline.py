"""onnxruntime-genai behind the text2text interface (imported only when a pipeline is built)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime_genai as og

from genai_harness.backends import numerics as nx
from genai_harness.backends import weight_precision as wp
from genai_harness.backends.byte_level import ByteLevelDecoder
from genai_harness.backends.ep_plugins import FALLBACK_OFF, register_genai
from genai_harness.errors import (
    ContextLengthError,
    DeviceMismatchError,
    DeviceUnavailableError,
    GenerationError,
    ModelError,
)
from genai_harness.interface import text2text
from genai_harness.interface.devices import FRAMEWORK_ORT_GENAI, Device

# og.Model.device_type answers with these for each provider.
EXPECTED_DEVICE_TYPE = {"cpu": "CPU", "cuda": "CUDA", "dml": "DML", "webgpu": "WebGPU", "qnn": "QNN",
                        "OpenVINO": "OpenVINO", "NvTensorRtRtx": "NvTensorRtRtx"}


class OrtGenAIText2TextPipeline(nx.ReadsNumerics, text2text.Pipeline):
    """An onnxruntime-genai model folder (``genai_config.json``) on one provider."""

    framework = FRAMEWORK_ORT_GENAI

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        if not (model_path / "genai_config.json").is_file():
            raise ModelError(f"{model_path} is not an onnxruntime-genai model folder: genai_config.json is missing")
        provider = str(device.config.get("provider", "cpu"))
        precision, threads = nx.requested(device.config)
        genai_config = json.loads((model_path / "genai_config.json").read_text())
        files = [model_path / str(genai_config.get("model", {}).get("decoder", {}).get("filename", "model.onnx"))]
        if precision != "default":  # refused before loading; otherwise the files are read after the timed load
            weights, inputs = wp.model_weight_precision(files)
            compute = nx.onnx_compute_precision(weights, inputs)
            if precision != compute:
                raise nx.refuse(FRAMEWORK_ORT_GENAI, precision, f"onnxruntime-genai runs the model's own types and "
                                f"this model's weights are {weights.label()}, computed at {compute}",
                                f"build the model for {precision} (its builder's -p option) or run with "
                                f"{nx.advice(compute)}")
        session_overlay: dict[str, Any] = {"intra_op_num_threads": threads} if threads is not None else {}
        plugin = device.config.get("ep_library")
        if plugin:  # a plugin EP: registered in this process, and no node may run on the CPU EP under its name
            error = register_genai(og, dict(plugin))
            if error:
                raise DeviceUnavailableError(f"{device.label}: {error}")
            session_overlay[FALLBACK_OFF] = "1"  # onnxruntime-genai passes unknown session keys as config entries
        try:
            config = og.Config(str(model_path))
            config.clear_providers()
            if provider != "cpu":
                config.append_provider(provider)
                for key, value in dict(device.config.get("provider_options", {})).items():
                    config.set_provider_option(provider, str(key), str(value))
            if session_overlay:
                config.overlay(json.dumps({"model": {"decoder": {"session_options": session_overlay}}}))
            self._model = og.Model(config)
            self._tokenizer = og.Tokenizer(self._model)
        except Exception as exc:
            raise ModelError(f"onnxruntime-genai cannot load {model_path} on {provider}: {exc}") from exc
        actual = str(getattr(self._model, "device_type", "") or "")
        expected = EXPECTED_DEVICE_TYPE.get(provider, provider)
        if actual and actual.lower() != expected.lower():
            raise DeviceMismatchError(
                f"onnxruntime-genai was asked for provider {provider!r} ({device.label}) but the model runs on "
                f"{actual!r}; refusing to label results with the requested device"
            )
        self.actual_device = actual or expected
        self._context_length = self._read_context_length(model_path)
        self._byte_level = ByteLevelDecoder.from_folder(model_path)
        session_options = {**genai_config.get("model", {}).get("decoder", {}).get("session_options", {}),
                           **session_overlay}
        intra = int(session_options.get("intra_op_num_threads", 0) or 0)

        def read() -> nx.Numerics:
            counts = nx.model_weight_elements(files)
            weights, inputs = wp.model_weight_precision(files)
            kv_cache = wp.kv_cache_dtype(inputs)
            return nx.Numerics(
                precision=nx.onnx_compute_precision(weights, inputs), threads=intra or nx.default_threads(),
                weight_dtypes=nx.weight_dtypes(counts), weight_precision=weights.label(),
                kv_cache_precision=nx.kv_cache_word(kv_cache),
                details={"provider": provider, "device_type": self.actual_device,
                         "provider_options": dict(device.config.get("provider_options", {})),
                         "session_options": session_options,
                         "source": "onnxruntime-genai: its config (genai_config.json + overlay) as loaded; it runs "
                                   "the model's own types (MatMulNBits at its accuracy_level); the KV cache in the "
                                   "type of the decoder's past_key_values inputs" + (
                                       "" if intra else "; intra_op_num_threads unset = onnxruntime's default, one "
                                                        "per physical core"),
                         "runtime": "onnxruntime-genai", "weight_elements": dict(counts),
                         "weight_precision": weights.to_dict(), "kv_cache_dtype": kv_cache,
                         **({"ep_library": dict(plugin), "cpu_ep_fallback": "off"} if plugin else {})},
                runtime="onnxruntime_genai")

        self._numerics_reader = read

    @staticmethod
    def _read_context_length(model_path: Path) -> int:
        data = json.loads((model_path / "genai_config.json").read_text())
        return int(data.get("model", {}).get("context_length", 0) or data.get("search", {}).get("max_length", 0))

    def _encode(self, text: str) -> list[int]:
        return [int(t) for t in self._tokenizer.encode(text)]

    def _decode(self, token_ids: Sequence[int]) -> str:
        # Tokenizer.decode stops at the first invalid UTF-8 sequence (random weights emit byte tokens in any order)
        # and its streaming decoder drops the characters after one: a byte-level BPE is decoded from its
        # tokenizer.json as Hugging Face does (byte_level.py); other tokenizers by the stream, the closest it has.
        if self._byte_level is not None:
            return self._byte_level.decode(token_ids)
        stream = self._tokenizer.create_stream()
        return "".join(stream.decode(int(t)) for t in token_ids)

    def chat_prompt(self, text: str) -> str | None:
        """The model's chat template (tokenizer_config.json) rendered by onnxruntime-genai's tokenizer."""
        try:
            return str(self._tokenizer.apply_chat_template(json.dumps([{"role": "user", "content": text}]),
                                                           add_generation_prompt=True))
        except Exception as exc:
            if "empty chat template" in str(exc).lower():
                return None
            raise ModelError(f"onnxruntime-genai cannot render the model's chat template: {exc}; "
                             "run with --raw to send the prompt as it is") from exc

    def _params(self, n_input: int, config: text2text.GenerationConfig) -> Any:
        params = og.GeneratorParams(self._model)
        max_length = n_input + config.max_new_tokens
        if self._context_length and max_length > self._context_length:
            raise ContextLengthError(
                f"prompt of {n_input} tokens + {config.max_new_tokens} new exceeds the model's context "
                f"of {self._context_length} tokens"
            )
        sampling = config.sampling
        options: dict[str, Any] = {
            "max_length": max_length,
            "min_length": n_input + config.min_new_tokens,
            "do_sample": sampling.do_sample,
        }
        if sampling.do_sample:
            options.update(temperature=sampling.temperature, top_k=sampling.top_k, top_p=sampling.top_p,
                           random_seed=sampling.rng_seed)
        params.set_search_options(**options)
        return params

    def _generate_ids(self, input_ids: list[int], config: text2text.GenerationConfig,
                      on_token: text2text.TokenCallback) -> dict[str, Any]:
        clock = self.clock
        created_ns = clock()
        generator = og.Generator(self._model, self._params(len(input_ids), config))
        appending_ns = clock()
        generator.append_tokens(input_ids)
        appended_ns = clock()
        produced = 0
        eos = set(config.eos_token_ids)
        while produced < config.max_new_tokens and not generator.is_done():
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            on_token(token)
            produced += 1
            if token in eos and produced >= config.min_new_tokens:
                break
        # The span onnxruntime-genai's own benchmark_e2e.py calls prompt processing (append_tokens, Generator
        # creation excluded), beside our TTFT (which keeps what a user waits for).
        return {"ortg_generator_create_ms": (appending_ns - created_ns) / 1e6,
                "ortg_prompt_processing_ms": (appended_ns - appending_ns) / 1e6}

    def _generate_timed(self, input_ids: list[int], config: text2text.GenerationConfig,
                        call_start_ns: int) -> text2text.TimedGeneration | None:
        """The measured path: the loop of onnxruntime-genai's own benchmark (generate_next_token, then the
        clock), the ids read once at the end; extra stop ids need the per-token path."""
        if config.eos_token_ids:
            return None
        clock = self.clock
        created_ns = clock()
        generator = og.Generator(self._model, self._params(len(input_ids), config))
        appending_ns = clock()
        generator.append_tokens(input_ids)
        appended_ns = clock()
        token_ns: list[int] = []
        forced = config.min_new_tokens == config.max_new_tokens  # min_length = max_length: it cannot stop early
        while len(token_ns) < config.max_new_tokens and (forced or not generator.is_done()):
            generator.generate_next_token()
            token_ns.append(clock())
        ids = [int(t) for t in generator.get_sequence(0)[len(input_ids):len(input_ids) + len(token_ns)]]
        return text2text.TimedGeneration(ids, token_ns, {
            "ortg_generator_create_ms": (appending_ns - created_ns) / 1e6,
            "ortg_prompt_processing_ms": (appended_ns - appending_ns) / 1e6})

    def logits_along(self, input_ids: Sequence[int], token_ids: Sequence[int]) -> Any:
        """Extension: the logits that predict each of ``token_ids`` after ``input_ids`` (teacher-forced).

        Shape (len(token_ids), vocab). Used to compare a cell's numerics with its f32 reference.
        """
        params = og.GeneratorParams(self._model)
        total = len(input_ids) + len(token_ids)
        params.set_search_options(max_length=total, min_length=total, do_sample=False)
        generator = og.Generator(self._model, params)
        generator.append_tokens(list(input_ids))
        rows = [np.asarray(generator.get_logits(), dtype=np.float32).reshape(-1).copy()]
        for token in token_ids[:-1]:
            generator.append_tokens([int(token)])
            rows.append(np.asarray(generator.get_logits(), dtype=np.float32).reshape(-1).copy())
        return np.stack(rows)

    def create_generator(self, config: text2text.GenerationConfig | None = None) -> text2text.Generator:
        return OrtGenAIGenerator(self, config or self.get_generation_config())


class OrtGenAIGenerator(text2text.Generator):
    """onnxruntime-genai's own step API behind the interface's Generator.

    Input may come in several pieces: the runtime generator is created at the first step, when the
    whole prompt is known (its max/min length count the prompt). Runtime failures become GenerationError,
    as on the ``__call__`` path.
    """

    def __init__(self, pipeline: OrtGenAIText2TextPipeline, config: text2text.GenerationConfig) -> None:
        self._pipeline = pipeline
        self._config = config
        self._generator: Any = None
        self._input: list[int] = []
        self._produced = 0
        self._last: int | None = None

    def append_input_tokens(self, text: str | Sequence[int]) -> None:
        if self._generator is not None:
            raise GenerationError("this generator has started; appending after the first token is not supported")
        self._input += self._pipeline.encode(text) if isinstance(text, str) else list(text)

    def _runtime(self, step: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:
            raise GenerationError(f"{self._pipeline.framework} failed during generation ({step}): {exc}") from exc

    def _start(self) -> Any:
        if self._generator is None:
            if not self._input:
                raise GenerationError("no input tokens: append a non-empty prompt before generating")
            params = self._pipeline._params(len(self._input), self._config)
            generator = self._runtime("prefill", lambda: og.Generator(self._pipeline._model, params))
            self._runtime("prefill", lambda: generator.append_tokens(self._input))
            self._generator = generator
        return self._generator

    def generate_next_token(self) -> int:
        if self.is_done():
            raise GenerationError("generation is done; create a new generator")
        self._runtime("decode", self._generator.generate_next_token)
        self._produced += 1
        self._last = int(self._runtime("decode", self._generator.get_next_tokens)[0])
        return self._last

    def is_done(self) -> bool:
        generator = self._start()
        config = self._config
        if self._produced >= config.max_new_tokens:
            return True
        if self._last in config.eos_token_ids and self._produced >= config.min_new_tokens:
            return True
        return bool(generator.is_done())
