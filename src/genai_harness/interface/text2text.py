"""Text-to-text (LLM generation) interface, ``onnx::genai::Text2Text`` in Python style.

Extensions to the proposal: token ids in :class:`GenerationInput`, per-token timestamps and
native runtime metrics in :class:`GenerationResult`, streaming from a :class:`Pipeline`
(:meth:`Pipeline.stream`) and an injectable clock. Backends implement two hooks,
``_encode`` and ``_generate_ids``; timing lives here, once, so every runtime is timed the same way.
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from genai_harness.clock import Clock, default_clock
from genai_harness.errors import ConfigurationError, GenerationError, HarnessError
from genai_harness.interface.devices import Device

TokenCallback = Callable[[int], None]


@dataclass(frozen=True)
class SamplingConfig:
    """Sampling sub-config; ``do_sample=False`` is greedy search."""

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    rng_seed: int = 0


@dataclass(frozen=True)
class BeamSearchConfig:
    """Beam-search sub-config; ``num_beams=1`` disables beam search."""

    num_beams: int = 1
    length_penalty: float = 1.0
    num_return_sequences: int = 1


@dataclass(frozen=True)
class GenerationConfig:
    """How much to generate and how (``Text2Text::GenerationConfig``).

    Set ``min_new_tokens == max_new_tokens`` to force an exact length, as benchmarks do.
    """

    max_new_tokens: int = 128
    min_new_tokens: int = 0
    eos_token_ids: tuple[int, ...] = ()
    stop_strings: tuple[str, ...] = ()
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    beam_search: BeamSearchConfig = field(default_factory=BeamSearchConfig)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigurationError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ConfigurationError(
                f"min_new_tokens must lie in 0..max_new_tokens ({self.max_new_tokens}), "
                f"got {self.min_new_tokens}"
            )
        if self.beam_search.num_beams != 1:
            raise ConfigurationError("beam search is not supported by the harness yet; use num_beams=1")

    @classmethod
    def exact(cls, n_new_tokens: int) -> GenerationConfig:
        """Extension: greedy generation of exactly ``n_new_tokens`` (EOS ignored)."""
        return cls(max_new_tokens=n_new_tokens, min_new_tokens=n_new_tokens)


@dataclass(frozen=True)
class GenerationInput:
    """The prompt (``Text2Text::GenerationInput``). Extension: ``token_ids`` skips tokenization."""

    text: str = ""
    token_ids: tuple[int, ...] | None = None


@dataclass
class GenerationResult:
    """What a generation produced (``Text2Text::GenerationResult``).

    Extension: token ids, the clock readings taken by the harness (``start_ns`` when generate was
    called, ``token_ns[i]`` when new token ``i`` became available, ``end_ns`` at return) and the
    runtime's own metrics under ``native_metrics``.
    """

    text: str
    token_ids: list[int] = field(default_factory=list)
    input_token_ids: list[int] = field(default_factory=list)
    start_ns: int = 0
    token_ns: list[int] = field(default_factory=list)
    end_ns: int = 0
    native_metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class TimedGeneration:
    """Extension: what a runtime that records its own per-token times returns (no callback in its loop).

    ``token_ns`` are on the pipeline's clock (same time base as ``start_ns``).
    """

    token_ids: list[int]
    token_ns: list[int]
    native_metrics: dict[str, Any] = field(default_factory=dict)


class Generator(ABC):
    """Token-by-token generation (``Text2Text::Generator``), for streaming."""

    @abstractmethod
    def append_input_tokens(self, text: str | Sequence[int]) -> None:
        """Add prompt text (tokenized with the model's tokenizer) or token ids."""

    @abstractmethod
    def generate_next_token(self) -> int:
        """Run one step and return the new token id."""

    @abstractmethod
    def is_done(self) -> bool:
        """Whether generation has finished (length reached or EOS)."""


class Pipeline(ABC):
    """A ready text-to-text pipeline (``Text2Text::Pipeline``)."""

    framework: str = ""

    numerics: Any = None
    """Extension: the numerics read back after load (a :class:`genai_harness.backends.numerics.Numerics`)."""

    def __init__(self, device: Device, clock: Clock = default_clock) -> None:
        self.device = device
        self.clock = clock
        self._config = GenerationConfig()
        self._busy = threading.Lock()

    # ---- the proposal's surface ------------------------------------------------------------
    def get_generation_config(self) -> GenerationConfig:
        """The config used when a call passes none."""
        return self._config

    def set_generation_config(self, config: GenerationConfig) -> None:
        """Replace the default config."""
        self._config = config

    def __call__(
        self, prompt: GenerationInput | str, config: GenerationConfig | None = None
    ) -> GenerationResult:
        """Generate, timing tokenization, every new token and the return with ``self.clock``.

        A runtime that records its own per-token times (:meth:`_generate_timed`) runs without a callback
        in its loop, so that the measurement does not slow what it measures; others call back per token.
        """
        config = config or self._config
        prompt = GenerationInput(text=prompt) if isinstance(prompt, str) else prompt
        clock = self.clock
        token_ns: list[int] = []
        new_ids: list[int] = []

        def on_token(token_id: int) -> None:
            token_ns.append(clock())
            new_ids.append(token_id)

        start_ns = clock()
        input_ids = list(prompt.token_ids) if prompt.token_ids is not None else self._encode(prompt.text)
        timed = self._guarded(lambda: self._generate_timed(input_ids, config, start_ns))
        if timed is None:
            native = self._run(input_ids, config, on_token)
        else:
            new_ids, token_ns, native = list(timed.token_ids), list(timed.token_ns), dict(timed.native_metrics)
        text = self._decode(new_ids)
        end_ns = clock()
        return GenerationResult(
            text=text,
            token_ids=new_ids,
            input_token_ids=input_ids,
            start_ns=start_ns,
            token_ns=token_ns,
            end_ns=end_ns,
            native_metrics=native,
        )

    # ---- extensions ------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Extension: the model tokenizer's ids for ``text`` (no special tokens added)."""
        return self._encode(text)

    def decode(self, token_ids: Sequence[int]) -> str:
        """Extension: text for token ids."""
        return self._decode(token_ids)

    def chat_prompt(self, text: str) -> str | None:
        """Extension: ``text`` as one user message framed by the model's chat template, the assistant's turn opened
        (``add_generation_prompt``), rendered by the runtime's own tokenizer; None where the model has no template."""
        return None

    def stream(self, prompt: GenerationInput | str, config: GenerationConfig | None = None) -> Iterator[int]:
        """Extension: yield new token ids as the runtime produces them."""
        config = config or self._config
        prompt = GenerationInput(text=prompt) if isinstance(prompt, str) else prompt
        generator = self.create_generator(config)
        generator.append_input_tokens(prompt.token_ids if prompt.token_ids is not None else prompt.text)
        while not generator.is_done():
            yield generator.generate_next_token()

    def create_generator(self, config: GenerationConfig | None = None) -> Generator:
        """A fresh :class:`Generator` over this pipeline. Backends with a native step API override it."""
        return ThreadedGenerator(self, config or self._config)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the runtime's resources (optional)."""

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what a backend implements ---------------------------------------------------------
    @abstractmethod
    def _encode(self, text: str) -> list[int]:
        """Tokenize with the model's own tokenizer, adding no special tokens."""

    @abstractmethod
    def _decode(self, token_ids: Sequence[int]) -> str:
        """Detokenize."""

    @abstractmethod
    def _generate_ids(
        self, input_ids: list[int], config: GenerationConfig, on_token: TokenCallback
    ) -> dict[str, Any]:
        """Generate, calling ``on_token(id)`` the moment each new id is available.

        Must produce exactly ``max_new_tokens`` ids when ``min_new_tokens == max_new_tokens``.
        Returns the runtime's native metrics (may be empty).
        """

    def _generate_timed(self, input_ids: list[int], config: GenerationConfig,
                        call_start_ns: int) -> TimedGeneration | None:
        """Optional: generate without a per-token callback, with the runtime's own per-token times.

        None (the default) means the runtime records none: :meth:`__call__` uses :meth:`_generate_ids`.
        """
        return None

    def _run(self, input_ids: list[int], config: GenerationConfig, on_token: TokenCallback) -> dict[str, Any]:
        return self._guarded(lambda: self._generate_ids(input_ids, config, on_token))

    def _guarded(self, call: Callable[[], Any]) -> Any:
        """One generation at a time per pipeline (runtimes keep per-pipeline state); runtime errors named as ours."""
        with self._busy:
            try:
                return call()
            except HarnessError:
                raise
            except Exception as exc:  # the runtime's own failure, named as ours
                raise GenerationError(f"{self.framework} failed during generation: {exc}") from exc


class ThreadedGenerator(Generator):
    """A :class:`Generator` over a push-style runtime (one whose generate takes a callback).

    Generation runs in a thread; ``generate_next_token`` takes the next id from a queue.
    """

    def __init__(self, pipeline: Pipeline, config: GenerationConfig) -> None:
        self._pipeline = pipeline
        self._config = config
        self._input: list[int] = []
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._produced = 0
        self._pending: tuple[str, Any] | None = None

    def append_input_tokens(self, text: str | Sequence[int]) -> None:
        if self._thread is not None:
            raise GenerationError("this generator has started; appending after the first token is not supported")
        self._input += self._pipeline.encode(text) if isinstance(text, str) else list(text)

    def _start(self) -> None:
        def work() -> None:
            try:
                self._pipeline._run(self._input, self._config, lambda t: self._queue.put(("token", t)))
            except BaseException as exc:
                self._queue.put(("error", exc))
            self._queue.put(("done", None))

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()

    def _peek(self) -> tuple[str, Any]:
        if self._pending is None:
            if self._thread is None:
                self._start()
            self._pending = self._queue.get()
        return self._pending

    def generate_next_token(self) -> int:
        if self.is_done():
            raise GenerationError("generation is done; create a new generator")
        _kind, value = self._peek()
        self._pending = None
        self._produced += 1
        return int(value)

    def is_done(self) -> bool:
        if self._produced >= self._config.max_new_tokens:
            self._finish()
            return True
        kind, value = self._peek()
        if kind == "error":
            self._pending = ("done", None)
            raise value
        return kind == "done"

    def _finish(self) -> None:
        """Wait until the runtime's generate call has returned, so the pipeline is free for the next one.

        Without this a second generation could start while the first was still inside the runtime (it
        finishes its own bookkeeping after the last token): openvino-genai then failed with
        ``vector::_M_range_check`` on its perf-metrics vectors.
        """
        if self._thread is not None:
            self._thread.join()


def with_exact_length(config: GenerationConfig, n: int) -> GenerationConfig:
    """A copy of ``config`` that forces exactly ``n`` new tokens."""
    return replace(config, max_new_tokens=n, min_new_tokens=n)
