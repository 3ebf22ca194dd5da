"""Q-network for value-based agents (DQN)."""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import torch
from torch import nn

from rlcore.encoders import mlp
from rlcore.registry import register


@register("policies", "q_network")
class QNetwork(nn.Module):
    """Encoder, then an MLP head giving one Q-value per discrete action.

    Args:
        hidden: widths of the head's hidden layers after the encoder (default none).
    """

    family = "q_network"

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Discrete,
                 make_encoder: Callable[[], nn.Module], distribution: nn.Module | None = None,
                 hidden: tuple[int, ...] = (), activation: str = "relu"):
        super().__init__()
        self.encoder = make_encoder()
        self.head = mlp([self.encoder.out_dim, *hidden, int(action_space.n)], activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(obs))
