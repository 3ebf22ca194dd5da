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


class OUNoisyAction:
    """A deterministic action in ``[-1, 1]`` plus the next value of an Ornstein-Uhlenbeck process."""

    def __init__(self, mean: torch.Tensor, process: "OUNoise"):
        self.mean, self._process = torch.tanh(mean), process

    def sample(self) -> torch.Tensor:
        return (self.mean + self._process.advance(self.mean)).clamp(-1.0, 1.0)

    @property
    def mode(self) -> torch.Tensor:
        return self.mean


@register("distributions", "ou_noise")
class OUNoise(nn.Module):
    """Temporally correlated exploration noise (Ornstein-Uhlenbeck, as in the DDPG paper).

    Each :meth:`sample` of a batch advances one noise state per row (per env):
    ``x <- x - theta * x * dt + sigma * sqrt(dt) * N(0, 1)``, starting from 0. Successive
    values have lag-1 autocorrelation ``1 - theta * dt`` and stationary std
    ``sigma * sqrt(dt / (theta * dt * (2 - theta * dt)))`` (about 1.9 x sigma with the
    defaults). ``reset_noise(done)`` zeroes the rows of envs whose episode ended (off-policy
    agents call it after every step); a batch of a new size starts a fresh state. ``mode``
    is ``tanh(head output)``; there is no log-probability.
    """

    spaces = (gym.spaces.Box,)
    has_log_prob = False
    squashed = True

    def __init__(self, action_space: gym.spaces.Box, sigma: float = 0.1, theta: float = 0.15, dt: float = 1.0):
        super().__init__()
        self.num_params = int(np.prod(action_space.shape))
        self.sigma, self.theta, self.dt = float(sigma), float(theta), float(dt)
        self.state: torch.Tensor | None = None  # not a buffer: its shape follows the batch

    def advance(self, like: torch.Tensor) -> torch.Tensor:
        """Step the process once for a batch shaped like ``like`` and return the new noise."""
        x = self.state
        if x is None or x.shape != like.shape or x.device != like.device:
            x = torch.zeros_like(like)
        noise = torch.randn_like(like) * (self.sigma * self.dt ** 0.5)
        self.state = x - self.theta * self.dt * x + noise
        return self.state

    def reset_noise(self, done: torch.Tensor | None = None) -> None:
        """Restart the process for rows where ``done`` is True (all rows when None)."""
        if self.state is None or done is None:
            self.state = None
            return
        self.state[done.to(self.state.device).reshape(-1)] = 0.0

    def forward(self, params: torch.Tensor) -> OUNoisyAction:
        return OUNoisyAction(params, self)
