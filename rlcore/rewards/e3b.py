"""Exploration via Elliptical Episodic Bonuses (Henaff et al., 2022, arXiv:2210.05805)."""

from __future__ import annotations

import torch

from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.rewards.base import IntrinsicReward, inverse_loss
from rlcore.rewards.episodic import elliptical_bonus
from rlcore.rewards.rnd import _flat


@register("rewards", "e3b")
class E3B(IntrinsicReward):
    """An episodic count generalised to continuous embeddings by an ellipse.

    Observations are embedded by a network trained with an inverse-dynamics loss
    (predict the action from consecutive embeddings). Within an episode the bonus of
    ``s'`` is ``phi(s')^T C^{-1} phi(s')`` with ``C = ridge * I + sum phi phi^T`` over
    the episode's earlier steps: large in directions the episode has not covered yet.
    Episodic memory: see :mod:`rlcore.rewards.episodic` (per env, reset at ``dones``).
    With time-major ``[T, E]`` inputs (on-policy rollouts) each env's ``C^{-1}`` also
    carries over to the next ``compute`` call with the same ``E``, so an episode that spans
    two rollouts is not restarted at the second one (its earlier steps keep the embedding
    they had then); flat inputs always start with empty memories.

    Args:
        ridge: the ``lambda`` of ``C``'s initial ``lambda * I`` (default 0.1).
        Other keyword arguments are those of ``IntrinsicReward``.
    """

    def __init__(self, observation_space, action_space, device="cpu", *, ridge: float = 0.1, **kwargs):
        super().__init__(observation_space, action_space, device, **kwargs)
        if ridge <= 0:
            raise RLCoreError(f"ridge must be positive; got {ridge}.")
        self.ridge = float(ridge)
        d = self.latent_dim
        self.track(phi=self.embedding(), inverse=self.head(2 * d, self.action_dim))
        self._inv: torch.Tensor | None = None  # carried [E, d, d] inverses (time-major calls)

    def _bonus(self, obs, actions, next_obs, dones):
        emb = self.nets["phi"](self.prep(_flat(next_obs))).reshape(*next_obs.shape[:2], -1)
        carry = self.time_major and self._inv is not None and self._inv.shape[0] == emb.shape[1]
        bonus, inv = elliptical_bonus(emb, dones, self.ridge, self._inv if carry else None)
        self._inv = inv if self.time_major else None
        return bonus

    def _loss(self, obs, actions, next_obs):
        z, z_next = self.nets["phi"](obs), self.nets["phi"](next_obs)
        loss = inverse_loss(self.nets["inverse"](torch.cat([z, z_next], -1)), actions, self.action_space)
        return loss, {"inverse_loss": loss}
