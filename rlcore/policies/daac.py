"""The policy of Decoupled Advantage Actor-Critic: separate policy and value networks, and an
advantage head on the policy's features (Raileanu & Fergus, 2021, arXiv:2102.10330)."""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.policies.actor_critic import SeparateActorCritic
from rlcore.policies.init import orthogonal_
from rlcore.registry import register


@register("policies", "daac_actor_critic")
class DAACActorCritic(SeparateActorCritic):
    """:class:`SeparateActorCritic` plus ``adv_head``, which predicts the advantage of an action
    from the policy's features and the action (one-hot for Discrete spaces). Predicting
    advantages instead of values keeps the policy's features free of episode-specific detail."""

    family = "daac"

    def __init__(self, observation_space: gym.Space, action_space: gym.Space,
                 make_encoder: Callable[[], nn.Module], distribution: nn.Module, ortho_init: bool = True):
        super().__init__(observation_space, action_space, make_encoder, distribution, ortho_init)
        self.num_actions = int(action_space.n) if isinstance(action_space, gym.spaces.Discrete) else 0
        act_dim = self.num_actions or int(np.prod(action_space.shape))
        self.adv_head = nn.Linear(self.encoder.out_dim + act_dim, 1)
        if ortho_init:
            orthogonal_(self.adv_head, 1.0)

    def actor_params(self) -> list[nn.Parameter]:
        """Everything but the value network: encoder, policy and advantage heads, distribution."""
        critic = {id(p) for p in self.critic_params()}
        return [p for p in self.parameters() if id(p) not in critic]

    def critic_params(self) -> list[nn.Parameter]:
        return [*self.critic_encoder.parameters(), *self.critic_head.parameters()]

    def policy_and_advantage(self, obs: torch.Tensor, actions: torch.Tensor):
        """``(distribution, predicted advantage of actions)``."""
        h = self.encoder(obs)
        a = nn.functional.one_hot(actions.long(), self.num_actions).float() if self.num_actions else actions.float()
        adv = self.adv_head(torch.cat([h, a.reshape(h.shape[0], -1)], dim=-1)).squeeze(-1)
        return self.dist(self.actor_head(h)), adv
