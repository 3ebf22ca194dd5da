"""Categorical distribution over a Discrete action space."""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn

from rlcore.registry import register


class CategoricalDist:
    """Thin wrapper over logits with the ``ActionDist`` methods."""

    def __init__(self, logits: torch.Tensor):
        self.logits = logits - logits.logsumexp(-1, keepdim=True)

    def sample(self) -> torch.Tensor:
        return torch.multinomial(self.logits.exp(), 1).squeeze(-1)

    @property
    def mode(self) -> torch.Tensor:
        return self.logits.argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.logits.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.logits.exp() * self.logits).sum(-1)


@register("distributions", "categorical")
class Categorical(nn.Module):
    """Softmax over ``n`` discrete actions (policy outputs logits)."""

    spaces = (gym.spaces.Discrete,)
    has_log_prob = True
    squashed = False

    def __init__(self, action_space: gym.spaces.Discrete):
        super().__init__()
        self.num_params = int(action_space.n)

    def forward(self, params: torch.Tensor) -> CategoricalDist:
        return CategoricalDist(params)
