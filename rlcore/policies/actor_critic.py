"""Actor-critic policies for on-policy agents (PPO, A2C)."""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import torch
from torch import nn

from rlcore.policies.init import orthogonal_
from rlcore.registry import register


@register("policies", "actor_critic")
class ActorCritic(nn.Module):
    """One shared encoder feeding a policy head and a value head.

    ``forward(obs) -> (dist, value)``; ``value(obs) -> [B]``.
    """

    family = "actor_critic"

    def __init__(self, observation_space: gym.Space, action_space: gym.Space,
                 make_encoder: Callable[[], nn.Module], distribution: nn.Module, ortho_init: bool = True):
        super().__init__()
        self.encoder = make_encoder()
        self.dist = distribution
        self.actor_head = nn.Linear(self.encoder.out_dim, distribution.num_params)
        self.critic_head = nn.Linear(self.encoder.out_dim, 1)
        if ortho_init:
            orthogonal_(self.encoder)
            orthogonal_(self.actor_head, 0.01)
            orthogonal_(self.critic_head, 1.0)

    def features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(obs)
        return h, h

    def forward(self, obs: torch.Tensor):
        h_pi, h_v = self.features(obs)
        return self.dist(self.actor_head(h_pi)), self.critic_head(h_v).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic_head(self.features(obs)[1]).squeeze(-1)

    def distribution(self, obs: torch.Tensor):
        return self.dist(self.actor_head(self.features(obs)[0]))


@register("policies", "separate_actor_critic")
class SeparateActorCritic(ActorCritic):
    """Separate encoders for the policy and the value function (no shared features)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space,
                 make_encoder: Callable[[], nn.Module], distribution: nn.Module, ortho_init: bool = True):
        super().__init__(observation_space, action_space, make_encoder, distribution, ortho_init)
        self.critic_encoder = make_encoder()
        if ortho_init:
            orthogonal_(self.critic_encoder)

    def features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(obs), self.critic_encoder(obs)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic_head(self.critic_encoder(obs)).squeeze(-1)

    def distribution(self, obs: torch.Tensor):
        return self.dist(self.actor_head(self.encoder(obs)))
