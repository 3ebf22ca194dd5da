"""Encoders map observations to feature vectors; every encoder exposes ``out_dim``.

Contract: ``cls(observation_space, **kwargs)`` builds an ``nn.Module`` whose forward takes a
batch ``[B, *obs_shape]`` and returns ``[B, out_dim]`` float features.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.errors import RLCoreError
from rlcore.registry import register

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}


@runtime_checkable
class Encoder(Protocol):
    out_dim: int

    def __call__(self, obs: torch.Tensor) -> torch.Tensor: ...


def activation(name: str) -> type[nn.Module]:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise RLCoreError(f"Unknown activation {name!r}; accepted: {', '.join(ACTIVATIONS)}.") from None


def mlp(sizes: list[int], act: str = "tanh", out_act: bool = False) -> nn.Sequential:
    """Linear layers between consecutive ``sizes`` with activations in between."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or out_act:
            layers.append(activation(act)())
    return nn.Sequential(*layers)


def _flat_dim(space: gym.Space) -> int:
    if isinstance(space, gym.spaces.Dict):
        raise RLCoreError(f"Vector encoders need a Box observation space; got a Dict space with keys "
                          f"{', '.join(space.spaces)}: use encoder='multi_input'.")
    if not isinstance(space, gym.spaces.Box):
        raise RLCoreError(f"Vector encoders need a Box observation space; got {space}.")
    return int(np.prod(space.shape))


@register("encoders", "identity")
class IdentityEncoder(nn.Module):
    """Flattens the observation; features are the raw (float) inputs."""

    def __init__(self, observation_space: gym.Space):
        super().__init__()
        self.out_dim = _flat_dim(observation_space)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.reshape(obs.shape[0], -1).float()


@register("encoders", "mlp")
class MlpEncoder(nn.Module):
    """Flattens, then a multilayer perceptron.

    Args:
        hidden: layer widths (default ``(64, 64)``).
        activation: one of ``tanh`` (default), ``relu``, ``elu``, ``gelu``, ``silu``.
    """

    def __init__(self, observation_space: gym.Space, hidden: tuple[int, ...] = (64, 64),
                 activation: str = "tanh"):
        super().__init__()
        in_dim = _flat_dim(observation_space)
        self.net = mlp([in_dim, *hidden], activation, out_act=True)
        self.out_dim = hidden[-1] if hidden else in_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.reshape(obs.shape[0], -1).float())


from rlcore.encoders import cnn  # noqa: E402,F401  (registers nature_cnn, impala_cnn, drq_cnn)
from rlcore.encoders import multi  # noqa: E402,F401  (registers multi_input)
