"""Actor + twin-critic policies for off-policy continuous control (TD3, DDPG, SAC)."""

from __future__ import annotations

import math
from typing import Callable

import gymnasium as gym
import torch
from torch import nn

from rlcore.encoders import activation as act_module
from rlcore.encoders import mlp
from rlcore.registry import register


class CriticEnsemble(nn.Module):
    """``n`` independent Q(s, a) critics evaluated together: ``forward`` returns ``[n, B]``.

    Each critic has its own encoder and its own MLP over ``[features, action]``; the MLPs'
    weights are stacked (``[n, in, out]``) so one batched matrix product serves every critic,
    which costs about as much as evaluating a single critic. Encoders without parameters
    (``identity``) are evaluated once and shared. Initialisation matches ``nn.Linear``.
    """

    def __init__(self, encoders: list[nn.Module], act_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        self.n = len(encoders)
        self.encoders = nn.ModuleList(encoders)
        self.stateless = not any(True for e in encoders for _ in e.parameters())
        sizes = [encoders[0].out_dim + act_dim, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(self.n, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(self.n, 1, fan_out).uniform_(-bound, bound)))
        self.act = act_module(activation)()

    def __len__(self) -> int:
        return self.n

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        if self.stateless:
            x = torch.cat([self.encoders[0](obs), action], dim=-1).expand(self.n, -1, -1)
        else:
            x = torch.stack([torch.cat([e(obs), action], dim=-1) for e in self.encoders])
        return self._mlp(x, torch.baddbmm, slice(None))

    def first(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q of the first critic only, ``[B]`` (TD3's and DDPG's actor objective)."""
        x = torch.cat([self.encoders[0](obs), action], dim=-1)
        return self._mlp(x, torch.addmm, 0)

    def _mlp(self, x: torch.Tensor, affine, which) -> torch.Tensor:
        """The stacked MLP on ``x``: ``which`` picks the critics (all, or one index)."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = affine(b[which], x, w[which])
            if i < last:
                x = self.act(x)
        return x.squeeze(-1)


class _ActorTwinCritics(nn.Module):
    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 make_encoder: Callable[[], nn.Module], distribution: nn.Module,
                 hidden: tuple[int, ...] = (256, 256), activation: str = "relu", num_critics: int = 2):
        super().__init__()
        act_dim = int(torch.tensor(action_space.shape).prod())
        self.dist = distribution
        self.actor_encoder = make_encoder()
        self.actor = mlp([self.actor_encoder.out_dim, *hidden, distribution.num_params], activation)
        self.critics = CriticEnsemble([make_encoder() for _ in range(num_critics)], act_dim, hidden,
                                      activation)
        self._critic_params = list(self.critics.parameters())

    def actor_params(self) -> list[nn.Parameter]:
        return [*self.actor_encoder.parameters(), *self.actor.parameters(), *self.dist.parameters()]

    def critic_params(self) -> list[nn.Parameter]:
        return list(self.critics.parameters())

    def distribution(self, obs: torch.Tensor):
        return self.dist(self.actor(self.actor_encoder(obs)))

    def q_values(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Every critic's Q(obs, action), ``[num_critics, B]``."""
        return self.critics(obs, action)

    def freeze_critics(self, frozen: bool) -> None:
        """Stop (or restart) gradients into the critics, e.g. while the actor is updated."""
        for p in self._critic_params:
            p.requires_grad_(not frozen)


@register("policies", "deterministic_twin")
class DeterministicTwin(_ActorTwinCritics):
    """Deterministic tanh actor plus ``num_critics`` Q-critics (2 for TD3, 1 for DDPG)."""

    family = "deterministic_twin"


@register("policies", "stochastic_twin")
class StochasticTwin(_ActorTwinCritics):
    """Stochastic (squashed Gaussian) actor plus twin Q-critics, as in SAC."""

    family = "stochastic_twin"
