"""Augmentations for any float batch ``[B, ...]`` (state vectors or images)."""

from __future__ import annotations

import torch

from rlcore.augment.common import Augmentation
from rlcore.errors import RLCoreError
from rlcore.registry import register


@register("augmentations", "gaussian_noise")
class GaussianNoise(Augmentation):
    """Add independent Gaussian noise of standard deviation ``std`` to every element.

    ``std`` is in the observation's own units (e.g. about 5.0 for 0..255 pixels); the result
    is not clamped.

    Args:
        std: noise standard deviation >= 0 (default 0.1).
        generator: optional ``torch.Generator`` for the draws.
    """

    images_only = False

    def __init__(self, std: float = 0.1, generator: torch.Generator | None = None):
        super().__init__(generator)
        if not float(std) >= 0.0:
            raise RLCoreError(f"gaussian_noise std must be at least 0; got {std!r}.")
        self.std = float(std)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * self.randn(x, *x.shape)


@register("augmentations", "random_amplitude_scaling")
class RandomAmplitudeScaling(Augmentation):
    """Multiply each sample by one factor drawn uniformly from ``[low, high]``.

    One of the state-vector augmentations of RAD (Laskin et al., 2020, arXiv:2004.14990).

    Args:
        low, high: factor range, ``0 <= low <= high`` (defaults 0.6, 1.2).
        generator: optional ``torch.Generator`` for the draws.
    """

    images_only = False

    def __init__(self, low: float = 0.6, high: float = 1.2, generator: torch.Generator | None = None):
        super().__init__(generator)
        if not 0.0 <= float(low) <= float(high):
            raise RLCoreError(f"random_amplitude_scaling needs 0 <= low <= high; got low={low!r}, high={high!r}.")
        self.low, self.high = float(low), float(high)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.uniform(x, self.low, self.high, x.shape[0])
        return x * scale.view(-1, *([1] * (x.dim() - 1)))
