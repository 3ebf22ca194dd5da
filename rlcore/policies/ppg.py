"""The policy of Phasic Policy Gradient: separate actor and critic networks, and an auxiliary
value head on the actor's features (Cobbe et al., 2020, arXiv:2009.04416)."""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import torch
from torch import nn

from rlcore.policies.actor_critic import SeparateActorCritic
from rlcore.policies.init import orthogonal_
from rlcore.registry import register


@register("policies", "ppg_actor_critic")
class PPGActorCritic(SeparateActorCritic):
    """:class:`SeparateActorCritic` plus ``aux_head``: a value head on the policy's features.

    The auxiliary phase trains it on the returns, which distils value knowledge into the
    policy network's features while a cloning term keeps the policy's outputs in place.
    """

    family = "ppg"

    def __init__(self, observation_space: gym.Space, action_space: gym.Space,
                 make_encoder: Callable[[], nn.Module], distribution: nn.Module, ortho_init: bool = True):
        super().__init__(observation_space, action_space, make_encoder, distribution, ortho_init)
        self.aux_head = nn.Linear(self.encoder.out_dim, 1)
        if ortho_init:
            orthogonal_(self.aux_head, 1.0)

    def aux_forward(self, obs: torch.Tensor):
        """``(distribution, auxiliary value, value)`` for the auxiliary phase."""
        h = self.encoder(obs)
        aux = self.aux_head(h).squeeze(-1)
        return self.dist(self.actor_head(h)), aux, self.value(obs)
