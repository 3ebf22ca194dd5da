"""Convolutional encoders for image observations: Nature DQN, IMPALA and DrQ trunks.

All three take a Box observation space of shape ``(C, H, W)`` (or ``(k, C, H, W)`` from frame
stacking, folded into ``k * C`` channels) and refuse anything else with one sentence. When the
space is ``uint8`` the forward pass rescales by 1/255, whatever the tensor's dtype, so a float
batch that still carries byte values (after an augmentation) is scaled the same way. ``out_dim``
comes from a dummy forward pass at construction. Images smaller than a trunk's unpadded
minimum are handled by padding every convolution by ``kernel // 2`` instead of refusing.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.errors import RLCoreError
from rlcore.registry import register

MIN_SIZE = 8  # smallest height/width any of these encoders accepts


def image_shape(space: gym.Space, name: str) -> tuple[int, int, int]:
    """``(channels, height, width)`` of an image Box space, else a one-sentence RLCoreError."""
    shape = getattr(space, "shape", None) or ()
    if not isinstance(space, gym.spaces.Box) or len(shape) < 3:
        raise RLCoreError(f"Encoder {name!r} needs image observations of shape (C, H, W); got {space}.")
    c, h, w = int(np.prod(shape[:-2])), int(shape[-2]), int(shape[-1])
    if h < MIN_SIZE or w < MIN_SIZE:
        raise RLCoreError(f"Encoder {name!r} needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels; "
                          f"got {h}x{w}.")
    return c, h, w


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """Spatial size after a convolution (or pooling) layer."""
    return (size + 2 * padding - kernel) // stride + 1


def fits(size: int, layers: list[tuple[int, int]]) -> bool:
    """True if ``size`` stays at least 1 through unpadded ``(kernel, stride)`` layers."""
    for kernel, stride in layers:
        size = conv_out(size, kernel, stride, 0)
        if size < 1:
            return False
    return True


class _ImageEncoder(nn.Module):
    """Shared input handling: fold stacked frames into channels and rescale bytes."""

    def __init__(self, observation_space: gym.Space, name: str, offset: float = 0.0):
        super().__init__()
        self.in_shape = image_shape(observation_space, name)
        self.scale = 1.0 / 255.0 if observation_space.dtype == np.uint8 else 1.0
        self.offset = offset if observation_space.dtype == np.uint8 else 0.0

    def prepare(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(obs.shape[0], *self.in_shape).float()
        if self.scale != 1.0:
            x = x * self.scale - self.offset
        return x

    def _dim(self, net: nn.Module) -> int:
        with torch.no_grad():
            return int(net(torch.zeros(1, *self.in_shape)).reshape(1, -1).shape[1])


def _init_conv(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.orthogonal_(module.weight, math.sqrt(2))
        nn.init.zeros_(module.bias)


@register("encoders", "nature_cnn")
class NatureCNN(_ImageEncoder):
    """The DQN convolutional trunk (Mnih et al., 2015) plus a linear layer.

    Conv 32x8x8 stride 4, conv 64x4x4 stride 2, conv 64x3x3 stride 1 (ReLU after each), then
    Linear to ``features`` with ReLU. Inputs in ``[0, 1]``.

    Args:
        features: output width ``out_dim`` (default 512).
    """

    def __init__(self, observation_space: gym.Space, features: int = 512):
        super().__init__(observation_space, "nature_cnn")
        c, h, w = self.in_shape
        spec = [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
        pad = not all(fits(s, [(k, st) for _, k, st in spec]) for s in (h, w))
        layers: list[nn.Module] = []
        for out, k, st in spec:
            layers += [nn.Conv2d(c, out, k, st, padding=k // 2 if pad else 0), nn.ReLU()]
            c = out
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.linear = nn.Sequential(nn.Linear(self._dim(self.convs), features), nn.ReLU())
        self.apply(_init_conv)
        self.out_dim = int(features)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(self.prepare(obs)))


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


@register("encoders", "impala_cnn")
class ImpalaCNN(_ImageEncoder):
    """The IMPALA residual trunk (Espeholt et al., 2018).

    For each width in ``channels``: conv 3x3, max-pool 3x3 stride 2, two residual blocks
    (ReLU, conv, ReLU, conv, skip). Then ReLU, flatten, Linear to ``features`` with ReLU.
    Inputs in ``[0, 1]``. Works for any image of at least 8x8 pixels.

    Args:
        channels: widths of the three stacks (default ``(16, 32, 32)``).
        features: output width ``out_dim`` (default 256).
    """

    def __init__(self, observation_space: gym.Space, channels: tuple[int, ...] = (16, 32, 32),
                 features: int = 256):
        super().__init__(observation_space, "impala_cnn")
        c = self.in_shape[0]
        layers: list[nn.Module] = []
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.MaxPool2d(3, 2, padding=1),
                       _Residual(out), _Residual(out)]
            c = out
        self.convs = nn.Sequential(*layers, nn.ReLU(), nn.Flatten())
        self.linear = nn.Sequential(nn.Linear(self._dim(self.convs), features), nn.ReLU())
        self.out_dim = int(features)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(self.prepare(obs)))


@register("encoders", "drq_cnn")
class DrQCNN(_ImageEncoder):
    """The DrQ / DrQ-v2 trunk (Yarats et al., 2021, arXiv:2107.09645).

    Conv ``channels``x3x3 stride 2, then ``layers - 1`` convs ``channels``x3x3 stride 1, ReLU
    after each, flattened (no linear layer: agents add their own trunk). Byte inputs are mapped
    to ``x / 255 - 0.5``. ``out_dim`` is ``channels * h * w`` of the last feature map.

    Args:
        channels: convolution width (default 32).
        layers: number of convolutions (default 4).
    """

    def __init__(self, observation_space: gym.Space, channels: int = 32, layers: int = 4):
        super().__init__(observation_space, "drq_cnn", offset=0.5)
        if layers < 1 or channels < 1:
            raise RLCoreError(f"drq_cnn needs layers >= 1 and channels >= 1; got {layers} and {channels}.")
        c, h, w = self.in_shape
        spec = [(3, 2)] + [(3, 1)] * (layers - 1)
        pad = not all(fits(s, spec) for s in (h, w))
        convs: list[nn.Module] = []
        for k, stride in spec:
            convs += [nn.Conv2d(c, channels, k, stride, padding=1 if pad else 0), nn.ReLU()]
            c = channels
        self.convs = nn.Sequential(*convs, nn.Flatten())
        self.apply(_init_conv)
        self.out_dim = self._dim(self.convs)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.convs(self.prepare(obs))
