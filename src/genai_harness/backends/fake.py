"""A deterministic fake backend for the harness's own tests (like httpx's MockTransport).

Not registered as an entry point: tests add it with
``register_spec(BackendSpec("fake", "genai_harness.backends.fake:FakeBackend"))`` and the
runner forwards that to its workers. Its "models" are folders whose name picks a behaviour:

- ``ok`` (or anything else): deterministic tokens, images and logits;
- ``abort``: the process aborts (SIGABRT), as a crashing native runtime would;
- ``hang``: the call never returns;
- ``raise``: the runtime raises inside generation;
- ``mismatch``: the device silently falls back (DeviceMismatchError);
- ``long``: a text model whose context (8 tokens) no workload fits (ContextLengthError: a skipped cell);
- ``int4``: a quantized model: it runs at its own precision and refuses a request for f32 (NumericsError).

Injected times (deterministic timing for the gate's wiring tests): a text model folder holding
``fake_times.json`` (``{"ttft_ms": T, "token_ms": M, "factors": [f0, f1, ...]}``) reports its tokens' times
itself (:meth:`FakeText2TextPipeline._generate_timed`): the first new token ``T`` ms after the call starts, each
next one ``M`` ms later, all multiplied by the factor of the pipeline: the n-th pipeline created on that folder
(by any process; the count lives in ``fake_times.count`` beside it) takes ``factors[n % len(factors)]``. So a
test scripts exactly how much each worker's calls "take", whatever the machine's load. With ``"load_cpu_ms": L``
the pipeline's creation (its load) also spends ``L`` times its factor ms of its thread's CPU time, which
``load_cpu_s`` counts whatever the machine's load (a busy machine stretches the wall time, not the CPU time).

Its numerics: numpy float32 on one thread, read back as such; it runs nothing else (a request for bf16,
f16 or more threads reads back f32 / 1 and the cell is refused).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genai_harness.backends.base import Backend
from genai_harness.backends.numerics import PRECISION_KEY, Numerics
from genai_harness.errors import ContextLengthError, DeviceMismatchError, ModelError, NumericsError
from genai_harness.interface import classification, text2image, text2text
from genai_harness.interface.devices import Device
from genai_harness.interface.tasks import ALL_TASKS

FAKE_FRAMEWORK = "fake"
FAKE_VOCAB = 1000
FAKE_CONTEXT = 8


def fake_numerics() -> Numerics:
    """What the fake runtime computes with: numpy float32, one thread."""
    return Numerics(precision="f32", threads=1, weight_dtypes="f32",
                    details={"runtime": "fake", "source": "fake: numpy float32 on one thread"}, runtime="fake")


def _behave(model_path: Path) -> None:
    name = model_path.name
    if name == "abort":
        os.abort()
    if name == "hang":
        time.sleep(3600)
    if name == "raise":
        raise RuntimeError("fake runtime failure")


class FakeBackend(Backend):
    """Deterministic stand-in runtime: CPU and NPU usable, GPU not."""

    framework: ClassVar[str] = FAKE_FRAMEWORK
    tasks: ClassVar[tuple[str, ...]] = ALL_TASKS
    runtime_module: ClassVar[str] = "genai_harness.backends.fake"
    distributions: ClassVar[tuple[str, ...]] = ("genai-harness",)
    model_formats: ClassVar[dict[str, str]] = {task: "fake" for task in ALL_TASKS}

    def enumerate_devices(self) -> list[Device]:
        return [
            self._device("CPU", config={}, execution_provider="FakeCPU", type="CPU", vendor="Fake", name="fake cpu"),
            self._device("NPU", config={}, execution_provider="FakeNPU", type="NPU", vendor="Fake", name="fake npu"),
            self._device("GPU", config={}, execution_provider="FakeGPU", type="GPU", vendor="Fake",
                         available=False, reason="fake GPU driver not loaded"),
        ]

    def _check(self, model_path: Path, device: Device) -> None:
        if not model_path.exists():
            raise ModelError(f"fake model {model_path} does not exist")
        if model_path.name == "mismatch":
            raise DeviceMismatchError(f"asked for {device.label} but the fake runtime ran on CPU")
        if model_path.name == "int4" and device.config.get(PRECISION_KEY) == "f32":
            raise NumericsError("fake: this model stores int4 weights and cannot run at precision f32")

    def create_text2text(self, model_path: Path, device: Device) -> text2text.Pipeline:
        self._check(model_path, device)
        return FakeText2TextPipeline(model_path, device)

    def create_text2image(self, model_path: Path, device: Device) -> text2image.Pipeline:
        self._check(model_path, device)
        return FakeText2ImagePipeline(model_path, device)

    def create_classifier(self, model_path: Path, device: Device) -> classification.Pipeline:
        self._check(model_path, device)
        return FakeClassifier(model_path, device)


TIMES_FILE = "fake_times.json"
"""A fake text model folder's injected times (see the module docstring)."""


def injected_times(model_path: Path) -> tuple[float, float, float] | None:
    """(TTFT ms, per-token ms, load CPU ms) of the next pipeline on ``model_path``, its factor applied and the folder's
    count of pipelines advanced; None when the folder injects no times."""
    spec_path = model_path / TIMES_FILE
    if not spec_path.is_file():
        return None
    spec = json.loads(spec_path.read_text())
    counter = model_path / "fake_times.count"
    with open(counter, "a+") as fh:  # one pipeline at a time takes the next factor (ab runs workers one by one)
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        count = int(fh.read().strip() or 0)
        fh.seek(0)
        fh.truncate()
        fh.write(str(count + 1))
    factors = [float(f) for f in spec.get("factors", [1.0])] or [1.0]
    factor = factors[count % len(factors)]
    return (float(spec["ttft_ms"]) * factor, float(spec["token_ms"]) * factor,
            float(spec.get("load_cpu_ms", 0.0)) * factor)


def spend_cpu(ms: float) -> None:
    """Spin until this thread has spent ``ms`` more milliseconds of CPU time (a load's injected CPU time)."""
    until = time.thread_time() + ms / 1000.0
    while time.thread_time() < until:
        pass


class FakeText2TextPipeline(text2text.Pipeline):
    """Tokens are characters' code points mod 1000; new token i is (last input + i + 1) mod 1000."""

    framework = FAKE_FRAMEWORK

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        self.model_path = model_path
        self.actual_device = device.label
        self.numerics = fake_numerics()
        self.times = injected_times(model_path)
        if self.times is not None:
            spend_cpu(self.times[2])

    def _generate_timed(self, input_ids: list[int], config: text2text.GenerationConfig,
                        call_start_ns: int) -> text2text.TimedGeneration | None:
        if self.times is None:
            return None
        ttft_ms, token_ms, _ = self.times
        ids: list[int] = []
        self._generate_ids(input_ids, config, ids.append)
        stamps = [call_start_ns + round((ttft_ms + i * token_ms) * 1e6) for i in range(len(ids))]
        return text2text.TimedGeneration(ids, stamps, {"fake_native_tokens": len(ids)})

    def _encode(self, text: str) -> list[int]:
        return [ord(c) % FAKE_VOCAB for c in text]

    def _decode(self, token_ids: Sequence[int]) -> str:
        return "".join(chr(32 + t % 90) for t in token_ids)

    def _generate_ids(self, input_ids: list[int], config: text2text.GenerationConfig,
                      on_token: text2text.TokenCallback) -> dict[str, Any]:
        _behave(self.model_path)
        if self.model_path.name == "long" and len(input_ids) + config.max_new_tokens > FAKE_CONTEXT:
            raise ContextLengthError(f"prompt of {len(input_ids)} tokens + {config.max_new_tokens} new exceeds the "
                                     f"model's context of {FAKE_CONTEXT} tokens")
        last = input_ids[-1] if input_ids else 0
        for i in range(config.max_new_tokens):
            on_token((last + i + 1) % FAKE_VOCAB)
        return {"fake_native_tokens": config.max_new_tokens}


class FakeText2ImagePipeline(text2image.Pipeline):
    """A flat grey image whose level is the seed mod 256."""

    framework = FAKE_FRAMEWORK

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        self.model_path = model_path
        self.actual_device = device.label
        self.numerics = fake_numerics()

    def _generate(self, prompt: str, config: text2image.GenerationConfig,
                  on_step: text2image.StepCallback) -> tuple[np.ndarray, dict[str, Any]]:
        _behave(self.model_path)
        for step in range(config.num_inference_steps):
            on_step(step)
        shape = (config.num_images_per_prompt, config.image_height, config.image_width, 3)
        return np.full(shape, config.rng_seed % 256, dtype=np.uint8), {}


class FakeClassifier(classification.Pipeline):
    """Logits are the per-item mean of the batch, repeated over 10 classes."""

    framework = FAKE_FRAMEWORK

    def __init__(self, model_path: Path, device: Device) -> None:
        super().__init__(device)
        self.model_path = model_path
        self.actual_device = device.label
        self.numerics = fake_numerics()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, 8, 8)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        _behave(self.model_path)
        return np.repeat(batch.reshape(batch.shape[0], -1).mean(axis=1, keepdims=True), 10, axis=1)
