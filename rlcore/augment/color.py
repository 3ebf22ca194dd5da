"""Colour augmentations for image batches: colour jitter, random grayscale, random convolution.

Channels are read as a stack of frames: groups of 3 (RGB) when ``C % 3 == 0``, else single
grey channels. One sample's draws are shared by all frames of its stack.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rlcore.augment.common import Augmentation, as_frames, channel_groups, check_range
from rlcore.errors import RLCoreError
from rlcore.registry import register

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luminance weights
RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def luminance(frames: torch.Tensor) -> torch.Tensor:
    """``[B, F, g, H, W] -> [B, F, 1, H, W]``: BT.601 luma for RGB frames, the channel if grey."""
    if frames.shape[2] == 1:
        return frames
    w = torch.tensor(LUMA, dtype=frames.dtype, device=frames.device).view(1, 1, 3, 1, 1)
    return (frames * w).sum(2, keepdim=True)


def hue_matrices(angle: torch.Tensor) -> torch.Tensor:
    """Per-sample ``[B, 3, 3]`` RGB maps rotating chroma (the IQ plane of YIQ) by ``angle`` radians."""
    to_yiq = torch.tensor(RGB_TO_YIQ, dtype=angle.dtype, device=angle.device)
    rot = torch.zeros(angle.shape[0], 3, 3, dtype=angle.dtype, device=angle.device)
    rot[:, 0, 0] = 1.0
    rot[:, 1, 1], rot[:, 1, 2] = angle.cos(), -angle.sin()
    rot[:, 2, 1], rot[:, 2, 2] = angle.sin(), angle.cos()
    return torch.linalg.inv(to_yiq) @ rot @ to_yiq


@register("augmentations", "color_jitter")
class ColorJitter(Augmentation):
    """Random brightness, contrast, saturation and hue, in that order, clamped to [0, max_value].

    Per sample: brightness multiplies by ``U(1 - brightness, 1 + brightness)``; contrast blends
    each frame with its mean luminance by ``U(1 - contrast, 1 + contrast)``; saturation blends
    each pixel with its luminance by ``U(1 - saturation, 1 + saturation)``; hue rotates the
    chroma by ``U(-hue, hue)`` turns. Saturation and hue act on RGB frames only (``C % 3 == 0``).

    Args:
        brightness, contrast, saturation: jitter strengths >= 0 (defaults 0.4, 0.4, 0.4).
        hue: jitter strength in [0, 0.5] turns (default 0.1).
        max_value: the observation's upper bound, 255.0 for pixels (default) or 1.0.
        generator: optional ``torch.Generator`` for the draws.
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
                 hue: float = 0.1, max_value: float = 255.0, generator: torch.Generator | None = None):
        super().__init__(generator)
        self.brightness = check_range("color_jitter brightness", brightness, 0.0, 1.0)
        self.contrast = check_range("color_jitter contrast", contrast, 0.0, 1.0)
        self.saturation = check_range("color_jitter saturation", saturation, 0.0, 1.0)
        self.hue = check_range("color_jitter hue", hue, 0.0, 0.5)
        self.max_value = check_range("color_jitter max_value", max_value, 1e-6, math.inf)

    def _factor(self, x: torch.Tensor, strength: float) -> torch.Tensor:
        return self.uniform(x, 1.0 - strength, 1.0 + strength, x.shape[0]).view(-1, 1, 1, 1, 1)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        top = self.max_value
        f = as_frames(x, channel_groups(x))
        f = (f * self._factor(x, self.brightness)).clamp(0.0, top)
        mean = luminance(f).mean((-1, -2, -3), keepdim=True)
        f = torch.lerp(mean, f, self._factor(x, self.contrast)).clamp(0.0, top)
        if f.shape[2] == 3:
            f = torch.lerp(luminance(f), f, self._factor(x, self.saturation)).clamp(0.0, top)
            angle = self.uniform(x, -self.hue, self.hue, x.shape[0]) * (2 * math.pi)
            f = torch.einsum("bij,bfjhw->bfihw", hue_matrices(angle), f).clamp(0.0, top)
        return f.reshape(x.shape)


@register("augmentations", "grayscale")
class Grayscale(Augmentation):
    """With probability ``p`` per sample, replace every RGB frame by its luminance on all 3 channels.

    Needs RGB frame stacks (``C % 3 == 0``); the BT.601 luma keeps values in the input's range.

    Args:
        p: probability of converting each sample (default 0.3).
        generator: optional ``torch.Generator`` for the draws.
    """

    def __init__(self, p: float = 0.3, generator: torch.Generator | None = None):
        super().__init__(generator)
        self.p = check_range("grayscale p", p, 0.0, 1.0)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] % 3:
            raise RLCoreError(f"Augmentation 'grayscale' needs RGB frames (channels a multiple of 3); "
                              f"got {x.shape[1]} channels.")
        f = as_frames(x, 3)
        gray = luminance(f).expand_as(f).reshape(x.shape)
        return torch.where(self.coin(x, self.p)[:, None, None, None], gray, x)


@register("augmentations", "random_conv")
class RandomConv(Augmentation):
    """A random convolution per sample (network randomisation; Lee et al., 2020, arXiv:1910.05396).

    Each sample draws a ``kernel_size`` x ``kernel_size`` kernel mapping a frame's channel
    group to itself (3 -> 3 for RGB, 1 -> 1 for grey) with weights ``N(0, 1 / (g k^2))``,
    shared by all frames of its stack. The frame is scaled to [0, 1], convolved (zero padding)
    and squashed back to [0, max_value] with ``max_value * sigmoid(.)``.

    Args:
        kernel_size: odd kernel side (default 3).
        max_value: the observation's upper bound, 255.0 for pixels (default) or 1.0.
        generator: optional ``torch.Generator`` for the draws.
    """

    def __init__(self, kernel_size: int = 3, max_value: float = 255.0,
                 generator: torch.Generator | None = None):
        super().__init__(generator)
        if int(kernel_size) != kernel_size or kernel_size < 1 or kernel_size % 2 == 0:
            raise RLCoreError(f"random_conv kernel_size must be an odd positive integer; got {kernel_size!r}.")
        self.kernel_size = int(kernel_size)
        self.max_value = check_range("random_conv max_value", max_value, 1e-6, math.inf)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g, k = channel_groups(x), self.kernel_size
        frames = as_frames(x / self.max_value, g).transpose(0, 1).reshape(c // g, b * g, h, w)
        weight = self.randn(x, b * g, g, k, k) / math.sqrt(g * k * k)
        out = F.conv2d(frames, weight, padding=k // 2, groups=b)
        out = out.reshape(c // g, b, g, h, w).transpose(0, 1).reshape(b, c, h, w)
        return self.max_value * torch.sigmoid(out)
