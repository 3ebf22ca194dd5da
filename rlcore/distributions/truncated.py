"""A Gaussian truncated to the normalised action box ``[-1, 1]``."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.registry import register

SQRT2 = math.sqrt(2.0)
LOG_SQRT_2PI_E = 0.5 * math.log(2 * math.pi * math.e)
EPS = 1e-6


def _cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(x / SQRT2))


def _log_pdf(x: torch.Tensor) -> torch.Tensor:
    return -0.5 * x.pow(2) - 0.5 * math.log(2 * math.pi)


class TruncatedNormalDist:
    """Normal(mean, std) restricted to ``[-1, 1]`` per dimension; log-probs summed over dims.

    Sampling inverts the CDF, so :meth:`rsample_log_prob` is reparameterised.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        self.mean, self.std = mean, std
        self.alpha, self.beta = (-1.0 - mean) / std, (1.0 - mean) / std
        self.cdf_a, self.cdf_b = _cdf(self.alpha), _cdf(self.beta)
        self.z = (self.cdf_b - self.cdf_a).clamp_min(1e-8)

    def rsample(self) -> torch.Tensor:
        u = torch.rand_like(self.mean)
        p = (self.cdf_a + u * self.z).clamp(EPS, 1.0 - EPS)
        x = self.mean + self.std * SQRT2 * torch.erfinv(2.0 * p - 1.0)
        return x.clamp(-1.0, 1.0)

    def sample(self) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample()

    @property
    def mode(self) -> torch.Tensor:
        return self.mean.clamp(-1.0, 1.0)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        x = (actions - self.mean) / self.std
        return (_log_pdf(x) - self.std.log() - self.z.log()).sum(-1)

    def entropy(self) -> torch.Tensor:
        a, b = self.alpha, self.beta
        tails = (a * _log_pdf(a).exp() - b * _log_pdf(b).exp()) / (2.0 * self.z)
        return (LOG_SQRT_2PI_E + self.std.log() + self.z.log() + tails).sum(-1)

    def rsample_log_prob(self) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.rsample()
        return a, self.log_prob(a)


@register("distributions", "truncated_normal")
class TruncatedNormal(nn.Module):
    """Gaussian truncated to ``[-1, 1]`` with state-dependent mean and log-std.

    The policy outputs ``2 x action dim`` values: the mean is ``tanh`` of the first half
    (so it stays inside the box) and the log-std is the second half plus ``log_std_init``,
    clamped to ``[log_std_min, log_std_max]``. Actions lie in ``[-1, 1]`` with an exact
    density (no tanh change of variables), so it is ``squashed``: agents rescale actions
    to the bounds. It fits PPO, A2C and SAC on Box spaces. ``mode`` is the mean.
    """

    spaces = (gym.spaces.Box,)
    has_log_prob = True
    squashed = True

    def __init__(self, action_space: gym.spaces.Box, log_std_init: float = 0.0,
                 log_std_min: float = -5.0, log_std_max: float = 2.0):
        super().__init__()
        self.act_dim = int(np.prod(action_space.shape))
        self.num_params = 2 * self.act_dim
        self.log_std_init, self.log_std_min, self.log_std_max = log_std_init, log_std_min, log_std_max

    def forward(self, params: torch.Tensor) -> TruncatedNormalDist:
        mean, log_std = params.split(self.act_dim, dim=-1)
        log_std = (log_std + self.log_std_init).clamp(self.log_std_min, self.log_std_max)
        return TruncatedNormalDist(torch.tanh(mean), log_std.exp())
