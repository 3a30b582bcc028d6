"""Extension: image classification, a task the ONNX GenAI proposal does not define yet.

Shaped like the proposal's pipelines: a config, a result and a pipeline with a clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genai_harness.clock import Clock, default_clock
from genai_harness.errors import ConfigurationError, GenerationError, HarnessError
from genai_harness.interface.devices import Device


@dataclass(frozen=True)
class ClassificationConfig:
    """Batch size and the seed of the synthetic input batch."""

    batch_size: int = 1
    rng_seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {self.batch_size}")


@dataclass
class ClassificationResult:
    """Logits for each item, timed by the harness."""

    logits: np.ndarray
    start_ns: int = 0
    end_ns: int = 0
    native_metrics: dict[str, Any] = field(default_factory=dict)

    def top1(self) -> np.ndarray:
        """Index of the highest logit per item."""
        return self.logits.reshape(self.logits.shape[0], -1).argmax(axis=1)


class Pipeline(ABC):
    """A ready classifier: one ONNX image model on one device."""

    framework: str = ""

    def __init__(self, device: Device, clock: Clock = default_clock) -> None:
        self.device = device
        self.clock = clock

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one item (C, H, W) the model expects."""

    def make_batch(self, config: ClassificationConfig) -> np.ndarray:
        """A deterministic float32 batch of the model's input shape."""
        rng = np.random.default_rng(config.rng_seed)
        return rng.standard_normal((config.batch_size, *self.input_shape), dtype=np.float32)

    def __call__(self, batch: np.ndarray) -> ClassificationResult:
        """Classify one batch (float32, NCHW), timed with ``self.clock``."""
        start_ns = self.clock()
        try:
            logits = self._infer(batch)
        except HarnessError:
            raise
        except Exception as exc:
            raise GenerationError(f"{self.framework} failed during classification: {exc}") from exc
        end_ns = self.clock()
        return ClassificationResult(logits=logits, start_ns=start_ns, end_ns=end_ns)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the runtime's resources (optional)."""

    @abstractmethod
    def _infer(self, batch: np.ndarray) -> np.ndarray:
        """Run the model on one batch and return its logits."""
