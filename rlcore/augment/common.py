"""Shared pieces of the built-in augmentations: the base module, shape checks, random draws."""

from __future__ import annotations

import torch
from torch import nn

from rlcore.errors import RLCoreError


class Augmentation(nn.Module):
    """Base of the built-in augmentations: checks the input, then calls :meth:`transform`.

    Every augmentation draws its randomness independently for each batch element from
    ``generator`` when one is given (on any device; draws are moved to the batch's device),
    else from torch's global random number generator.

    Attributes:
        images_only: True when the input must be an image batch ``[B, C, H, W]``; False
            when any float batch ``[B, ...]`` is accepted.
    """

    images_only: bool = True

    def __init__(self, generator: torch.Generator | None = None):
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self._name(), self.images_only)
        return self.transform(x)

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _name(self) -> str:
        return getattr(type(self), "registry_key", type(self).__name__)

    # ----- random draws, one row per batch element ---------------------------------------
    def rand(self, x: torch.Tensor, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) draws of ``shape`` as ``x``'s float dtype on ``x``'s device."""
        device = self.generator.device if self.generator is not None else x.device
        out = torch.rand(shape, generator=self.generator, device=device)
        return out.to(device=x.device, dtype=x.dtype)

    def randn(self, x: torch.Tensor, *shape: int) -> torch.Tensor:
        """Standard normal draws of ``shape`` as ``x``'s float dtype on ``x``'s device."""
        device = self.generator.device if self.generator is not None else x.device
        out = torch.randn(shape, generator=self.generator, device=device)
        return out.to(device=x.device, dtype=x.dtype)

    def uniform(self, x: torch.Tensor, low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * self.rand(x, *shape)

    def coin(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """A boolean ``[B]`` mask, True with probability ``p`` for each batch element."""
        return self.rand(x, x.shape[0]) < p


def check_input(x: torch.Tensor, name: str, images_only: bool) -> None:
    """Raise a one-sentence RLCoreError unless ``x`` is a float batch this augmentation takes."""
    if not torch.is_tensor(x) or not x.is_floating_point():
        got = x.dtype if torch.is_tensor(x) else type(x).__name__
        raise RLCoreError(f"Augmentation {name!r} needs a float tensor batch; got {got} "
                          f"(convert observations with .float()).")
    if images_only and x.dim() != 4:
        raise RLCoreError(f"Augmentation {name!r} needs image batches [B, C, H, W]; "
                          f"got shape {tuple(x.shape)}.")
    if x.dim() < 2:
        raise RLCoreError(f"Augmentation {name!r} needs a batch [B, ...] with at least one "
                          f"feature dimension; got shape {tuple(x.shape)}.")


def channel_groups(x: torch.Tensor) -> int:
    """Channels per colour group: 3 (RGB frames) when ``C % 3 == 0``, else 1 (grey frames)."""
    return 3 if x.shape[1] % 3 == 0 else 1


def as_frames(x: torch.Tensor, group: int) -> torch.Tensor:
    """``[B, C, H, W] -> [B, C // group, group, H, W]`` (a stack of frames of ``group`` channels)."""
    b, c, h, w = x.shape
    return x.reshape(b, c // group, group, h, w)


def check_range(name: str, value: float, low: float, high: float) -> float:
    """``value`` as a float if ``low <= value <= high``, else a one-sentence RLCoreError."""
    if not low <= float(value) <= high:
        raise RLCoreError(f"{name} must lie in [{low}, {high}]; got {value!r}.")
    return float(value)
