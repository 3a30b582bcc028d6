"""Text-to-image interface, ``onnx::genai::Text2Image`` in Python style.

Extensions: clock readings per denoising step and native runtime metrics in the result, and an
injectable clock. Backends implement ``_generate``; timing lives here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genai_harness.clock import Clock, default_clock
from genai_harness.errors import ConfigurationError, GenerationError, HarnessError
from genai_harness.interface.devices import Device

StepCallback = Callable[[int], None]


@dataclass(frozen=True)
class GenerationConfig:
    """Image size, steps and guidance (``Text2Image::GenerationConfig``)."""

    image_width: int = 512
    image_height: int = 512
    num_inference_steps: int = 20
    num_images_per_prompt: int = 1
    guidance_scale: float = 7.5
    rng_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("image_width", "image_height"):
            value = getattr(self, name)
            if value < 8 or value % 8:
                raise ConfigurationError(f"{name} must be a positive multiple of 8, got {value}")
        if self.num_inference_steps < 1:
            raise ConfigurationError(f"num_inference_steps must be at least 1, got {self.num_inference_steps}")
        if self.num_images_per_prompt < 1:
            raise ConfigurationError("num_images_per_prompt must be at least 1")


@dataclass
class GenerationResult:
    """Generated images as one uint8 NHWC tensor (``Text2Image::GenerationResult``).

    Extension: ``start_ns``/``step_ns``/``end_ns`` clock readings and ``native_metrics``.
    """

    tensor: np.ndarray
    start_ns: int = 0
    step_ns: list[int] = field(default_factory=list)
    end_ns: int = 0
    native_metrics: dict[str, Any] = field(default_factory=dict)


class Pipeline(ABC):
    """A ready text-to-image pipeline (``Text2Image::Pipeline``)."""

    framework: str = ""

    def __init__(self, device: Device, clock: Clock = default_clock) -> None:
        self.device = device
        self.clock = clock
        self._config = GenerationConfig()

    def get_generation_config(self) -> GenerationConfig:
        """The config used when a call passes none."""
        return self._config

    def set_generation_config(self, config: GenerationConfig) -> None:
        """Replace the default config."""
        self._config = config

    def __call__(self, prompt: str, config: GenerationConfig | None = None) -> GenerationResult:
        """Generate images for ``prompt``, timing each denoising step with ``self.clock``."""
        config = config or self._config
        clock = self.clock
        step_ns: list[int] = []
        start_ns = clock()
        try:
            tensor, native = self._generate(prompt, config, lambda _step: step_ns.append(clock()))
        except HarnessError:
            raise
        except Exception as exc:
            raise GenerationError(f"{self.framework} failed during image generation: {exc}") from exc
        end_ns = clock()
        expected = (config.num_images_per_prompt, config.image_height, config.image_width, 3)
        if tensor.dtype != np.uint8 or tensor.shape != expected:
            raise GenerationError(
                f"{self.framework} returned an image tensor {tensor.dtype}{tensor.shape}, expected uint8{expected}"
            )
        return GenerationResult(tensor=tensor, start_ns=start_ns, step_ns=step_ns, end_ns=end_ns,
                                native_metrics=native)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the runtime's resources (optional)."""

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _generate(
        self, prompt: str, config: GenerationConfig, on_step: StepCallback
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Return (uint8 NHWC images, native metrics), calling ``on_step(i)`` after each denoising step."""
