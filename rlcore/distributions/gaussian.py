"""Gaussian action distributions for Box action spaces."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.registry import register

LOG_2PI = math.log(2 * math.pi)


class NormalDist:
    """Diagonal Gaussian; log-probabilities summed over action dimensions."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor):
        self.mean, self.log_std = mean, log_std.expand_as(mean)
        self.std = self.log_std.exp()

    def sample(self) -> torch.Tensor:
        with torch.no_grad():
            return self.mean + self.std * torch.randn_like(self.mean)

    def rsample(self) -> torch.Tensor:
        return self.mean + self.std * torch.randn_like(self.mean)

    @property
    def mode(self) -> torch.Tensor:
        return self.mean

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        z = (actions - self.mean) / self.std
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * LOG_2PI).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (0.5 + 0.5 * LOG_2PI + self.log_std).sum(-1)

    def rsample_log_prob(self) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.rsample()
        return a, self.log_prob(a)


class TanhNormalDist(NormalDist):
    """Gaussian squashed by tanh into ``[-1, 1]`` with the change-of-variables correction."""

    def sample(self) -> torch.Tensor:
        return torch.tanh(super().sample())

    @property
    def mode(self) -> torch.Tensor:
        return torch.tanh(self.mean)

    def rsample_log_prob(self) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.mean + self.std * torch.randn_like(self.mean)
        logp = super().log_prob(u)
        # log(1 - tanh(u)^2) computed stably: 2 * (log 2 - u - softplus(-2u))
        logp = logp - (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), logp

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        a = actions.clamp(-0.999999, 0.999999)
        u = torch.atanh(a)
        return super().log_prob(u) - torch.log1p(-a.pow(2) + 1e-6).sum(-1)

    def entropy(self) -> torch.Tensor:
        # No closed form; a single-sample estimate of the squashed entropy.
        _, logp = self.rsample_log_prob()
        return -logp


def _act_dim(space: gym.spaces.Box) -> int:
    return int(np.prod(space.shape))


@register("distributions", "diag_gaussian")
class DiagGaussian(nn.Module):
    """Gaussian with a learned state-independent log-std (policy outputs the mean).

    Actions are unbounded; agents clip them to the action bounds before stepping the env.
    """

    spaces = (gym.spaces.Box,)
    has_log_prob = True
    squashed = False

    def __init__(self, action_space: gym.spaces.Box, log_std_init: float = 0.0):
        super().__init__()
        self.num_params = _act_dim(action_space)
        self.log_std = nn.Parameter(torch.full((self.num_params,), float(log_std_init)))

    def forward(self, params: torch.Tensor) -> NormalDist:
        return NormalDist(params, self.log_std)


@register("distributions", "squashed_gaussian")
class SquashedGaussian(nn.Module):
    """State-dependent Gaussian squashed by tanh (policy outputs mean and log-std), as in SAC."""

    spaces = (gym.spaces.Box,)
    has_log_prob = True
    squashed = True

    def __init__(self, action_space: gym.spaces.Box, log_std_min: float = -5.0, log_std_max: float = 2.0):
        super().__init__()
        self.act_dim = _act_dim(action_space)
        self.num_params = 2 * self.act_dim
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, params: torch.Tensor) -> TanhNormalDist:
        mean, log_std = params.split(self.act_dim, dim=-1)
        log_std = log_std.clamp(self.log_std_min, self.log_std_max)
        return TanhNormalDist(mean, log_std)
