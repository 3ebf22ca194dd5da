"""Exploration noise around a deterministic action (DDPG, TD3)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.registry import register


class NoisyAction:
    """A deterministic action in ``[-1, 1]`` plus clipped Gaussian exploration noise."""

    def __init__(self, mean: torch.Tensor, sigma: float):
        self.mean, self.sigma = torch.tanh(mean), sigma

    def sample(self) -> torch.Tensor:
        noise = torch.randn_like(self.mean) * self.sigma
        return (self.mean + noise).clamp(-1.0, 1.0)

    @property
    def mode(self) -> torch.Tensor:
        return self.mean


@register("distributions", "normal_noise")
class NormalNoise(nn.Module):
    """Gaussian exploration noise with std ``sigma`` (in the normalised action range)."""

    spaces = (gym.spaces.Box,)
    has_log_prob = False
    squashed = True

    def __init__(self, action_space: gym.spaces.Box, sigma: float = 0.1):
        super().__init__()
        self.num_params = int(np.prod(action_space.shape))
        self.sigma = sigma

    def forward(self, params: torch.Tensor) -> NoisyAction:
        return NoisyAction(params, self.sigma)
