"""Euler discrete scheduler in numpy (the Stable-Diffusion default), pure functions only.

Follows the published algorithm (Karras et al. 2022, as diffusers' EulerDiscreteScheduler):
sigmas from a scaled-linear beta schedule, "leading"/"linspace"/"trailing" timestep spacing,
epsilon prediction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EulerSchedule:
    """Timesteps and sigmas for one generation (``sigmas`` has one more entry: the final 0)."""

    timesteps: np.ndarray
    sigmas: np.ndarray
    init_noise_sigma: float


def make_schedule(config: Mapping[str, Any], num_steps: int) -> EulerSchedule:
    """The schedule for ``num_steps`` steps of a diffusers ``scheduler_config.json``."""
    n_train = int(config.get("num_train_timesteps", 1000))
    beta_start = float(config.get("beta_start", 0.00085))
    beta_end = float(config.get("beta_end", 0.012))
    kind = config.get("beta_schedule", "scaled_linear")
    # float32 throughout, as diffusers computes them (tests/test_golden.py holds its values)
    if kind == "scaled_linear":
        betas = np.linspace(beta_start**0.5, beta_end**0.5, n_train, dtype=np.float32) ** 2
    elif kind == "linear":
        betas = np.linspace(beta_start, beta_end, n_train, dtype=np.float32)
    else:
        raise ValueError(f"unsupported beta_schedule {kind!r}")
    alphas_cumprod = np.cumprod(np.float32(1.0) - betas, dtype=np.float32)
    all_sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** np.float32(0.5)
    spacing = config.get("timestep_spacing", "linspace")
    offset = int(config.get("steps_offset", 0))
    if spacing == "linspace":
        timesteps = np.linspace(0, n_train - 1, num_steps, dtype=np.float64)[::-1].copy()
    elif spacing == "leading":
        ratio = n_train // num_steps
        timesteps = (np.arange(0, num_steps) * ratio).round()[::-1].astype(np.float64) + offset
    elif spacing == "trailing":
        ratio = n_train / num_steps
        timesteps = np.round(np.arange(n_train, 0, -ratio)).astype(np.float64) - 1
    else:
        raise ValueError(f"unsupported timestep_spacing {spacing!r}")
    sigmas = np.interp(timesteps, np.arange(n_train), all_sigmas)
    sigmas = np.concatenate([sigmas, [0.0]]).astype(np.float32)
    max_sigma = float(sigmas.max())
    init = max_sigma if spacing in ("linspace", "trailing") else float(np.sqrt(max_sigma**2 + 1))
    return EulerSchedule(timesteps=timesteps, sigmas=sigmas, init_noise_sigma=init)


def scale_model_input(latents: np.ndarray, sigma: float) -> np.ndarray:
    """Latents as the UNet expects them at noise level ``sigma``."""
    return (latents / np.sqrt(sigma**2 + 1)).astype(np.float32)


def euler_step(latents: np.ndarray, noise_pred: np.ndarray, sigma: float, sigma_next: float) -> np.ndarray:
    """One Euler step for an epsilon-predicting model."""
    return (latents + noise_pred * (sigma_next - sigma)).astype(np.float32)


def guided(noise_uncond: np.ndarray, noise_text: np.ndarray, scale: float) -> np.ndarray:
    """Classifier-free guidance."""
    return noise_uncond + scale * (noise_text - noise_uncond)


def to_uint8_nhwc(image_nchw: np.ndarray) -> np.ndarray:
    """VAE output in [-1, 1], NCHW, to uint8 NHWC, truncated as openvino-genai does (so both agree)."""
    image = np.clip(image_nchw / 2 + 0.5, 0.0, 1.0).transpose(0, 2, 3, 1)
    return (image * 255).astype(np.uint8)
