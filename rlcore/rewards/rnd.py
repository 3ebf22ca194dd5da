"""Random Network Distillation (Burda et al., 2018, arXiv:1810.12894)."""

from __future__ import annotations

import torch

from rlcore.registry import register
from rlcore.rewards.base import IntrinsicReward


def _flat(x: torch.Tensor, lead: int = 2) -> torch.Tensor:
    return x.reshape(-1, *x.shape[lead:])


@register("rewards", "rnd")
class RND(IntrinsicReward):
    """Novelty as the error of a trained predictor imitating a fixed random network.

    A randomly initialised target network embeds the next observation; a predictor network
    is trained to reproduce that embedding. Its squared error stays high on observations
    unlike those trained on, so the bonus ``mean((predictor(s') - target(s'))^2)`` fades for
    states the agent keeps visiting. Keyword arguments are those of ``IntrinsicReward``.
    """

    def __init__(self, observation_space, action_space, device="cpu", **kwargs):
        super().__init__(observation_space, action_space, device, **kwargs)
        self.track(target=self.embedding().requires_grad_(False), predictor=self.embedding())

    def error(self, x: torch.Tensor) -> torch.Tensor:
        """Per-row squared prediction error on prepared observations ``[B, ...]``."""
        return (self.nets["predictor"](x) - self.nets["target"](x)).pow(2).mean(-1)

    def _bonus(self, obs, actions, next_obs, dones):
        return self.error(self.prep(_flat(next_obs))).reshape(next_obs.shape[:2])

    def _loss(self, obs, actions, next_obs):
        loss = self.error(next_obs).mean()
        return loss, {"loss": loss}
