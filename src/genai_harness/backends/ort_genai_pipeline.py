"""onnxruntime-genai behind the text2text interface (imported only when a pipeline is built)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnxruntime_genai as og

from genai_harness import text2text
from genai_harness.errors import DeviceMismatchError, GenerationError, ModelError
from genai_harness.interface import FRAMEWORK_ORT_GENAI, Device

# og.Model.device_type answers with these for each provider.
EXPECTED_DEVICE_TYPE = {"cpu": "CPU", "cuda": "CUDA", "dml": "DML", "webgpu": "WebGPU", "qnn": "QNN",
                        "OpenVINO": "OpenVINO", "NvTensorRtRtx": "NvTensorRtRtx"}


class OrtGenAIText2TextPipeline(text2text.Pipeline):
    """An onnxruntime-genai model folder (``genai_config.json``) on one provider."""

    framework = FRAMEWORK_ORT_GENAI

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        if not (model_path / "genai_config.json").is_file():
            raise ModelError(f"{model_path} is not an onnxruntime-genai model folder: genai_config.json is missing")
        provider = str(device.config.get("provider", "cpu"))
        try:
            config = og.Config(str(model_path))
            config.clear_providers()
            if provider != "cpu":
                config.append_provider(provider)
                for key, value in dict(device.config.get("provider_options", {})).items():
                    config.set_provider_option(provider, str(key), str(value))
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

    @staticmethod
    def _read_context_length(model_path: Path) -> int:
        import json

        data = json.loads((model_path / "genai_config.json").read_text())
        return int(data.get("model", {}).get("context_length", 0) or data.get("search", {}).get("max_length", 0))

    def _encode(self, text: str) -> list[int]:
        return [int(t) for t in self._tokenizer.encode(text)]

    def _decode(self, token_ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(token_ids))) if token_ids else ""

    def _params(self, n_input: int, config: text2text.GenerationConfig) -> Any:
        params = og.GeneratorParams(self._model)
        max_length = n_input + config.max_new_tokens
        if self._context_length and max_length > self._context_length:
            raise ModelError(
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
        generator = og.Generator(self._model, self._params(len(input_ids), config))
        generator.append_tokens(input_ids)
        produced = 0
        eos = set(config.eos_token_ids)
        while produced < config.max_new_tokens and not generator.is_done():
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            on_token(token)
            produced += 1
            if token in eos and produced >= config.min_new_tokens:
                break
        return {}

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
