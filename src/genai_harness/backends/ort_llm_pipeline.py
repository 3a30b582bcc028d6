"""Text generation on plain onnxruntime sessions: an ONNX decoder with a KV cache, on any execution provider.

The decoder's names are matched to roles through one table (:mod:`~genai_harness.backends.decoder_conventions`):
the onnxruntime-genai builder's GroupQueryAttention graphs, optimum / transformers-style exports and torch.onnx
dynamo exports with opset-23 Attention all run here. The session comes from the device's config exactly as the
other onnxruntime pipelines' do (:func:`~genai_harness.backends.ort_pipeline.create_session`: EP and provider
options, plugin EP devices, the fallback check), so an EP registered from a library needs nothing of its own.

With I/O binding (the default) the KV cache stays in onnxruntime's OrtValues from one step to the next: each
step's ``present`` outputs are bound as the next step's ``past`` inputs, never copied through numpy; only the
last row of logits comes back to Python. ``io_binding = false`` in the device config runs ``session.run`` with
numpy arrays instead (for comparison, or an EP whose binding fails).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from genai_harness.backends import decoder_conventions as dc
from genai_harness.backends import numerics as nx
from genai_harness.backends import weight_precision as wp
from genai_harness.backends.hf_tokenizer import HfTokenizer
from genai_harness.backends.ort_pipeline import create_session, session_numerics
from genai_harness.backends.sampling import next_token
from genai_harness.errors import ContextLengthError, GenerationError, ModelError
from genai_harness.interface import text2text
from genai_harness.interface.devices import FRAMEWORK_ORT, Device

OUTPUT_DEVICES = {"CUDAExecutionProvider": "cuda", "DmlExecutionProvider": "dml"}
"""Where an EP's outputs are allocated under I/O binding (onnxruntime's device names); every other EP: cpu."""

NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
            "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is not readable JSON: {exc}") from None
    return data if isinstance(data, dict) else {}


def _ids(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    return tuple(int(v) for v in value if isinstance(v, int)) if isinstance(value, list) else ()


class ModelFacts:
    """What the folder's configs say: context length, end tokens, KV heads and head size."""

    def __init__(self, folder: Path) -> None:
        genai = _read_json(folder / "genai_config.json").get("model", {})
        hf = _read_json(folder / "config.json")
        generation = _read_json(folder / "generation_config.json")
        decoder = genai.get("decoder", {}) if isinstance(genai, dict) else {}
        self.context_length = int(genai.get("context_length") or hf.get("max_position_embeddings") or 0)
        self.eos_token_ids = (_ids(generation.get("eos_token_id")) or _ids(genai.get("eos_token_id"))
                              or _ids(hf.get("eos_token_id")))
        heads = int(decoder.get("num_attention_heads") or hf.get("num_attention_heads") or 0)
        self.kv_heads = int(decoder.get("num_key_value_heads") or hf.get("num_key_value_heads") or heads)
        hidden = int(decoder.get("hidden_size") or hf.get("hidden_size") or 0)
        self.head_size = int(decoder.get("head_size") or hf.get("head_dim") or (hidden // heads if heads else 0))


class OrtText2TextPipeline(nx.ReadsNumerics, text2text.Pipeline):
    """An exported ONNX decoder (a folder with its .onnx and tokenizer.json) in one onnxruntime session."""

    framework = FRAMEWORK_ORT

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        if not model_path.is_dir():
            raise ModelError(f"{model_path} is not a folder; give the folder holding the decoder .onnx and "
                             "tokenizer.json")
        self._file = dc.decoder_file(model_path)
        self._tokenizer = HfTokenizer(model_path)
        self._facts = ModelFacts(model_path)
        self.session = create_session(self._file, device)
        # the names the session itself reports (no onnx package needed: worker environments may lack it)
        names_in = [i.name for i in self.session.get_inputs()]
        names_out = [o.name for o in self.session.get_outputs()]
        found = dc.match(names_in, names_out)
        if found is None:
            raise dc.refusal(self._file, names_in, names_out)
        self.io = found
        self.actual_device = self.session.get_providers()[0]
        self.io_binding = str(device.config.get("io_binding", True)).lower() not in ("false", "0", "no")
        self._output_device = OUTPUT_DEVICES.get(self.actual_device, "cpu")
        inputs = {i.name: i for i in self.session.get_inputs()}
        first_past = inputs[self.io.past_names[0][0]]
        self._kv_type = NP_TYPES.get(first_past.type, np.float32)
        shape = list(first_past.shape)
        kv_heads = shape[1] if isinstance(shape[1], int) else self._facts.kv_heads
        head_size = shape[3] if isinstance(shape[3], int) else self._facts.head_size
        if not kv_heads or not head_size:
            raise ModelError(f"{self._file}: the KV cache's heads/head size are symbolic and no config.json or "
                             "genai_config.json beside it names them (num_key_value_heads, head_dim)")
        self._empty_past_shape = (1, int(kv_heads), 0, int(head_size))
        self._mask_type = NP_TYPES.get(inputs[self.io.convention.attention_mask].type, np.int64)
        self._ids_type = NP_TYPES.get(inputs[self.io.convention.input_ids].type, np.int64)
        self._output_names = [self.io.convention.logits, *(n for pair in self.io.present_names for n in pair)]
        device_copy = device

        def read() -> nx.Numerics:
            base = session_numerics([self.session], [self._file], device_copy)
            _weights, graph_inputs = wp.model_weight_precision([self._file])
            kv_cache = wp.kv_cache_dtype(graph_inputs)
            details = {**base.details, "decoder_convention": self.io.convention.name, "io_binding": self.io_binding,
                       "kv_cache_dtype": kv_cache, "decoder_file": self._file.name}
            return replace(base, kv_cache_precision=nx.kv_cache_word(kv_cache), details=details)

        self._numerics_reader = read
        if nx.requested(device.config)[0] != "default":
            _ = self.numerics  # a precision it cannot run at is refused now, not later

    # ---- tokenizer ----------------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text)

    def _decode(self, token_ids: Sequence[int]) -> str:
        return self._tokenizer.decode(token_ids)

    def chat_prompt(self, text: str) -> str | None:
        """The model's chat template (chat_template.jinja / tokenizer_config.json) rendered with jinja2."""
        return self._tokenizer.apply_chat_template(text)

    # ---- generation ---------------------------------------------------------------------------
    def check_length(self, n_input: int, config: text2text.GenerationConfig) -> None:
        """Refuse a prompt that, with the new tokens asked for, exceeds the model's context."""
        context = self._facts.context_length
        if context and n_input + config.max_new_tokens > context:
            raise ContextLengthError(f"prompt of {n_input} tokens + {config.max_new_tokens} new exceeds the model's "
                                     f"context of {context} tokens")

    def stop_ids(self, config: text2text.GenerationConfig) -> set[int]:
        """The ids that end generation: the config's, else the model's own end tokens."""
        return set(config.eos_token_ids or self._facts.eos_token_ids)

    def new_state(self) -> DecodeState:
        """A fresh KV cache and position over this pipeline's session."""
        return DecodeState(self)

    def _generate_ids(self, input_ids: list[int], config: text2text.GenerationConfig,
                      on_token: text2text.TokenCallback) -> dict[str, Any]:
        if not input_ids:
            raise GenerationError(f"{self.framework} failed during generation: the prompt is empty (no input "
                                  "tokens); give a non-empty prompt")
        self.check_length(len(input_ids), config)
        clock = self.clock
        rng = np.random.default_rng(config.sampling.rng_seed)
        stop = self.stop_ids(config)
        state = self.new_state()
        started = clock()
        logits = state.feed(input_ids)
        prefilled = clock()
        produced = 0
        while True:
            token = next_token(logits, config.sampling, rng, stop if produced < config.min_new_tokens else ())
            on_token(token)
            produced += 1
            if produced >= config.max_new_tokens or (token in stop and produced >= config.min_new_tokens):
                break
            logits = state.feed([token])
        return {"ort_prefill_ms": (prefilled - started) / 1e6}

    def logits_along(self, input_ids: Sequence[int], token_ids: Sequence[int]) -> Any:
        """Extension: the logits that predict each of ``token_ids`` after ``input_ids`` (teacher-forced).

        Shape (len(token_ids), vocab). Used to compare a cell's numerics with its f32 reference.
        """
        state = self.new_state()
        rows = [state.feed(list(input_ids)).astype(np.float32)]
        rows += [state.feed([int(token)]).astype(np.float32) for token in token_ids[:-1]]
        return np.stack(rows)

    def create_generator(self, config: text2text.GenerationConfig | None = None) -> text2text.Generator:
        return OrtGenerator(self, config or self.get_generation_config())


class DecodeState:
    """One sequence's KV cache and length; :meth:`feed` runs the decoder over new ids and returns the last logits."""

    def __init__(self, pipeline: OrtText2TextPipeline) -> None:
        self._p = pipeline
        self.length = 0
        empty = np.zeros(pipeline._empty_past_shape, dtype=pipeline._kv_type)
        if pipeline.io_binding:
            self._binding = pipeline.session.io_binding()
            value = ort.OrtValue.ortvalue_from_numpy(empty, pipeline._output_device, 0)
            self._past: list[Any] = [value] * (2 * pipeline.io.n_layers)
        else:
            self._past = [empty] * (2 * pipeline.io.n_layers)

    def _small_inputs(self, ids: Sequence[int]) -> dict[str, np.ndarray]:
        p, n = self._p, len(ids)
        conv = p.io.convention
        total = self.length + n
        feeds = {conv.input_ids: np.asarray([ids], dtype=p._ids_type),
                 conv.attention_mask: np.ones((1, total), dtype=p._mask_type)}
        positions = np.arange(self.length, total, dtype=np.int64)
        for name in p.io.optional_inputs:
            if name == "position_ids":
                feeds[name] = positions[None, :]
            elif name == "cache_position":
                feeds[name] = positions
            elif name == "use_cache_branch":
                feeds[name] = np.asarray([self.length > 0], dtype=np.bool_)
        return feeds

    def feed(self, ids: Sequence[int]) -> np.ndarray:
        """Run the decoder over ``ids`` after what it has seen; the logits of the last position (``[vocab]``)."""
        p = self._p
        feeds = self._small_inputs(ids)
        past_names = [name for pair in p.io.past_names for name in pair]
        if p.io_binding:
            binding = self._binding
            for name, value in feeds.items():
                binding.bind_cpu_input(name, value)
            for name, value in zip(past_names, self._past, strict=True):
                binding.bind_ortvalue_input(name, value)
            binding.clear_binding_outputs()  # fresh outputs each step: the last ones are this step's past
            for name in p._output_names:
                binding.bind_output(name, p._output_device)
            p.session.run_with_iobinding(binding)
            outputs = binding.get_outputs()
            logits = outputs[0].numpy()
            self._past = list(outputs[1:])
        else:
            feeds.update(zip(past_names, self._past, strict=True))
            results = p.session.run(p._output_names, feeds)
            logits = results[0]
            self._past = list(results[1:])
        self.length += len(ids)
        return np.asarray(logits[0, -1], dtype=np.float32)


class OrtGenerator(text2text.Generator):
    """The step API over a :class:`DecodeState`: prefill at the first step, one decoder run per token after."""

    def __init__(self, pipeline: OrtText2TextPipeline, config: text2text.GenerationConfig) -> None:
        self._pipeline = pipeline
        self._config = config
        self._input: list[int] = []
        self._state: DecodeState | None = None
        self._logits: np.ndarray | None = None
        self._produced = 0
        self._last: int | None = None
        self._rng = np.random.default_rng(config.sampling.rng_seed)
        self._stop = pipeline.stop_ids(config)

    def append_input_tokens(self, text: str | Sequence[int]) -> None:
        if self._state is not None:
            raise GenerationError("this generator has started; appending after the first token is not supported")
        self._input += self._pipeline.encode(text) if isinstance(text, str) else list(text)

    def _runtime(self, step: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            raise GenerationError(f"{FRAMEWORK_ORT} failed during generation ({step}): {exc}") from exc

    def _start(self) -> None:
        if self._state is None:
            if not self._input:
                raise GenerationError("no input tokens: append a non-empty prompt before generating")
            self._pipeline.check_length(len(self._input), self._config)
            self._state = self._pipeline.new_state()
            state = self._state
            self._logits = self._runtime("prefill", lambda: state.feed(self._input))

    def generate_next_token(self) -> int:
        if self.is_done():
            raise GenerationError("generation is done; create a new generator")
        if self._last is not None:
            state, last = self._state, self._last
            assert state is not None
            self._logits = self._runtime("decode", lambda: state.feed([last]))
        assert self._logits is not None
        banned = self._stop if self._produced < self._config.min_new_tokens else ()
        self._last = next_token(self._logits, self._config.sampling, self._rng, banned)
        self._produced += 1
        return self._last

    def is_done(self) -> bool:
        self._start()
        if self._produced >= self._config.max_new_tokens:
            return True
        return self._last in self._stop and self._produced >= self._config.min_new_tokens
