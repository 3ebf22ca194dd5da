"""Actor + twin-critic policies for off-policy continuous control (TD3, DDPG, SAC)."""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import torch
from torch import nn

from rlcore.encoders import mlp
from rlcore.registry import register


class Critic(nn.Module):
    """Q(s, a): encoder features concatenated with the action, then an MLP to a scalar."""

    def __init__(self, encoder: nn.Module, act_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        self.encoder = encoder
        self.net = mlp([encoder.out_dim + act_dim, *hidden, 1], activation)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([self.encoder(obs), action], dim=-1)).squeeze(-1)


class _ActorTwinCritics(nn.Module):
    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 make_encoder: Callable[[], nn.Module], distribution: nn.Module,
                 hidden: tuple[int, ...] = (256, 256), activation: str = "relu", num_critics: int = 2):
        super().__init__()
        act_dim = int(torch.tensor(action_space.shape).prod())
        self.dist = distribution
        self.actor_encoder = make_encoder()
        self.actor = mlp([self.actor_encoder.out_dim, *hidden, distribution.num_params], activation)
        self.critics = nn.ModuleList(Critic(make_encoder(), act_dim, hidden, activation)
                                     for _ in range(num_critics))

    def actor_params(self) -> list[nn.Parameter]:
        return [*self.actor_encoder.parameters(), *self.actor.parameters(), *self.dist.parameters()]

    def critic_params(self) -> list[nn.Parameter]:
        return list(self.critics.parameters())

    def distribution(self, obs: torch.Tensor):
        return self.dist(self.actor(self.actor_encoder(obs)))

    def q_values(self, obs: torch.Tensor, action: torch.Tensor) -> list[torch.Tensor]:
        return [c(obs, action) for c in self.critics]


@register("policies", "deterministic_twin")
class DeterministicTwin(_ActorTwinCritics):
    """Deterministic tanh actor plus ``num_critics`` Q-critics (2 for TD3, 1 for DDPG)."""

    family = "deterministic_twin"


@register("policies", "stochastic_twin")
class StochasticTwin(_ActorTwinCritics):
    """Stochastic (squashed Gaussian) actor plus twin Q-critics, as in SAC."""

    family = "stochastic_twin"
