"""Intrinsic Curiosity Module (Pathak et al., 2017, arXiv:1705.05363)."""

from __future__ import annotations

import torch

from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.rewards.base import IntrinsicReward, inverse_loss
from rlcore.rewards.rnd import _flat


class DynamicsModels:
    """An embedding trained by inverse dynamics, plus a forward model in that embedding.

    Mixin for ICM and RIDE: ``phi`` embeds observations, ``inverse`` predicts the action
    from ``(phi(s), phi(s'))`` and ``forward`` predicts ``phi(s')`` from ``(phi(s), a)``.
    The loss is ``(1 - forward_weight) * inverse + forward_weight * forward`` (the
    forward target is detached, so only the inverse loss shapes ``phi``).
    """

    def _build_dynamics(self, forward_weight: float) -> None:
        if not 0.0 <= forward_weight <= 1.0:
            raise RLCoreError(f"forward_weight must lie in [0, 1]; got {forward_weight}.")
        self.forward_weight = float(forward_weight)
        d = self.latent_dim
        self.track(phi=self.embedding(), inverse=self.head(2 * d, self.action_dim),
                   forward_model=self.head(d + self.action_dim, d))

    def forward_error(self, z: torch.Tensor, actions: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        pred = self.nets["forward_model"](torch.cat([z, self.actions(actions)], -1))
        return 0.5 * (pred - z_next).pow(2).sum(-1)

    def _loss(self, obs, actions, next_obs):
        z, z_next = self.nets["phi"](obs), self.nets["phi"](next_obs)
        inv = inverse_loss(self.nets["inverse"](torch.cat([z, z_next], -1)), actions, self.action_space)
        fwd = self.forward_error(z, actions, z_next.detach()).mean()
        loss = (1.0 - self.forward_weight) * inv + self.forward_weight * fwd
        return loss, {"inverse_loss": inv, "forward_loss": fwd}


@register("rewards", "icm")
class ICM(DynamicsModels, IntrinsicReward):
    """Curiosity as the error of a forward model in a learned, action-relevant embedding.

    The embedding is trained to predict the action taken between two observations, so it
    keeps what the agent can influence and drops distractors. The bonus is the forward
    model's error ``0.5 * ||f(phi(s), a) - phi(s')||^2``.

    Args:
        forward_weight: weight of the forward loss against the inverse loss (default 0.2).
        Other keyword arguments are those of ``IntrinsicReward``.
    """

    def __init__(self, observation_space, action_space, device="cpu", *, forward_weight: float = 0.2,
                 **kwargs):
        super().__init__(observation_space, action_space, device, **kwargs)
        self._build_dynamics(forward_weight)

    def _bonus(self, obs, actions, next_obs, dones):
        phi = self.nets["phi"]
        z, z_next = phi(self.prep(_flat(obs))), phi(self.prep(_flat(next_obs)))
        return self.forward_error(z, _flat(actions), z_next).reshape(next_obs.shape[:2])
