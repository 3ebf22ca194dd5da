"""Geometric image augmentations: random resized crop, flip, rotation and cutout."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rlcore.augment.common import Augmentation, check_range
from rlcore.errors import RLCoreError
from rlcore.registry import register


def _warp(x: torch.Tensor, theta: torch.Tensor, padding_mode: str) -> torch.Tensor:
    """Resample ``x`` [B, C, H, W] through per-sample affine maps ``theta`` [B, 2, 3]."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


@register("augmentations", "random_crop")
class RandomCrop(Augmentation):
    """Random resized crop: keep a random square-scaled window and stretch it back to H x W.

    Each sample keeps a window whose sides are a fraction ``s ~ U(min_scale, 1)`` of the image
    sides, at a uniformly random position, and resizes it to the full size with bilinear
    interpolation, so the output shape equals the input shape (a zoom-in with a random offset).

    Args:
        min_scale: smallest fraction of each side kept, in (0, 1] (default 0.8).
        generator: optional ``torch.Generator`` for the draws.
    """

    def __init__(self, min_scale: float = 0.8, generator: torch.Generator | None = None):
        super().__init__(generator)
        if not 0.0 < float(min_scale) <= 1.0:
            raise RLCoreError(f"random_crop min_scale must lie in (0, 1]; got {min_scale!r}.")
        self.min_scale = float(min_scale)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        scale = self.uniform(x, self.min_scale, 1.0, b)
        shift = (2 * self.rand(x, b, 2) - 1) * (1 - scale)[:, None]
        theta = torch.zeros(b, 2, 3, dtype=x.dtype, device=x.device)
        theta[:, 0, 0] = scale
        theta[:, 1, 1] = scale
        theta[:, :, 2] = shift
        return _warp(x, theta, "border")


@register("augmentations", "random_flip")
class RandomFlip(Augmentation):
    """Mirror each image with probability ``p``.

    Args:
        p: probability of flipping each sample (default 0.5).
        direction: ``"horizontal"`` (left-right, default) or ``"vertical"`` (up-down).
        generator: optional ``torch.Generator`` for the draws.
    """

    def __init__(self, p: float = 0.5, direction: str = "horizontal",
                 generator: torch.Generator | None = None):
        super().__init__(generator)
        self.p = check_range("random_flip p", p, 0.0, 1.0)
        dims = {"horizontal": -1, "vertical": -2}
        if direction not in dims:
            raise RLCoreError(f"random_flip direction must be 'horizontal' or 'vertical'; got {direction!r}.")
        self.direction, self.dim = direction, dims[direction]

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.coin(x, self.p)[:, None, None, None]
        return torch.where(mask, x.flip(self.dim), x)


@register("augmentations", "random_rotate")
class RandomRotate(Augmentation):
    """Rotate each image about its centre by an angle drawn uniformly from ``[-degrees, degrees]``.

    Bilinear resampling; pixels rotated in from outside the image are filled with 0. The
    rotation is exact in pixel space for non-square images too.

    Args:
        degrees: largest absolute angle in degrees, in [0, 180] (default 15).
        generator: optional ``torch.Generator`` for the draws.
    """

    def __init__(self, degrees: float = 15.0, generator: torch.Generator | None = None):
        super().__init__(generator)
        self.degrees = check_range("random_rotate degrees", degrees, 0.0, 180.0)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        angle = self.uniform(x, -self.degrees, self.degrees, b) * (math.pi / 180.0)
        cos, sin = angle.cos(), angle.sin()
        theta = torch.zeros(b, 2, 3, dtype=x.dtype, device=x.device)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * (h / w)
        theta[:, 1, 0], theta[:, 1, 1] = sin * (w / h), cos
        return _warp(x, theta, "zeros")


@register("augmentations", "cutout")
class Cutout(Augmentation):
    """Fill one random rectangle of each image (all channels) with ``value``.

    The rectangle's height and width are fractions drawn uniformly from
    ``[min_size, max_size]`` of the image's height and width (at least one pixel), at a
    uniformly random position inside the image.

    Args:
        min_size, max_size: fraction range of each side, within (0, 1] (defaults 0.1, 0.3).
        value: fill value (default 0.0).
        generator: optional ``torch.Generator`` for the draws.
    """

    def __init__(self, min_size: float = 0.1, max_size: float = 0.3, value: float = 0.0,
                 generator: torch.Generator | None = None):
        super().__init__(generator)
        if not 0.0 < float(min_size) <= float(max_size) <= 1.0:
            raise RLCoreError(f"cutout needs 0 < min_size <= max_size <= 1; got min_size={min_size!r}, "
                              f"max_size={max_size!r}.")
        self.min_size, self.max_size, self.value = float(min_size), float(max_size), float(value)

    def _span(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """A ``[B, n]`` mask of one random run of positions along an axis of length ``n``."""
        b = x.shape[0]
        size = (self.uniform(x, self.min_size, self.max_size, b) * n).round().clamp(1, n)
        start = (self.rand(x, b) * (n - size + 1)).floor()
        pos = torch.arange(n, device=x.device, dtype=x.dtype)
        return (pos >= start[:, None]) & (pos < (start + size)[:, None])

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        mask = self._span(x, h)[:, :, None] & self._span(x, w)[:, None, :]
        return x.masked_fill(mask[:, None], self.value)
