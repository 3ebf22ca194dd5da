"""Self-supervised exploration via disagreement (Pathak et al., 2019, arXiv:1906.04161)."""

from __future__ import annotations

import math

import torch
from torch import nn

from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.rewards.base import IntrinsicReward
from rlcore.rewards.rnd import _flat


class EnsembleLinear(nn.Module):
    """``members`` independent linear layers applied at once: ``[K, B, in] -> [K, B, out]``."""

    def __init__(self, members: int, in_dim: int, out_dim: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def ensemble_mlp(members: int, sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(EnsembleLinear(members, sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@register("rewards", "disagreement")
class Disagreement(IntrinsicReward):
    """Novelty as the disagreement of an ensemble of forward models.

    A fixed random encoder embeds observations; ``members`` forward models, each trained
    on its own bootstrap resample of every minibatch, predict ``phi(s')`` from
    ``(phi(s), a)``. Where data is plentiful they agree; on unfamiliar transitions they
    differ, and the bonus is the variance of their predictions (averaged over the
    embedding). Unlike a prediction error it does not stay high on inherently noisy
    transitions.

    Args:
        members: ensemble size (default 5).
        Other keyword arguments are those of ``IntrinsicReward``.
    """

    def __init__(self, observation_space, action_space, device="cpu", *, members: int = 5, **kwargs):
        super().__init__(observation_space, action_space, device, **kwargs)
        if members < 2:
            raise RLCoreError(f"members must be at least 2; got {members}.")
        self.members = int(members)
        d, width = self.latent_dim, self.hidden[-1] if self.hidden else 128
        self.track(encoder=self.embedding().requires_grad_(False),
                   ensemble=ensemble_mlp(self.members, [d + self.action_dim, width, d]).to(self.device))

    def predictions(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``[K, B, d]`` predicted next embeddings (``obs`` prepared, ``actions`` raw)."""
        x = torch.cat([self.nets["encoder"](obs), self.actions(actions)], -1)
        return self.nets["ensemble"](x.expand(self.members, *x.shape))

    def _bonus(self, obs, actions, next_obs, dones):
        pred = self.predictions(self.prep(_flat(obs)), _flat(actions))
        return pred.var(0, unbiased=False).mean(-1).reshape(next_obs.shape[:2])

    def _loss(self, obs, actions, next_obs):
        n = obs.shape[0]
        boot = torch.randint(0, n, (self.members, n), generator=self.generator).to(self.device)
        x = torch.cat([self.nets["encoder"](obs), self.actions(actions)], -1)
        target = self.nets["encoder"](next_obs)
        pred = self.nets["ensemble"](x[boot])  # member k sees its own resample
        loss = (pred - target[boot]).pow(2).mean(-1).mean(-1).sum()
        return loss, {"loss": loss / self.members}
