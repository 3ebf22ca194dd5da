"""Rewarding Impact-Driven Exploration (Raileanu & Rocktaschel, 2020, arXiv:2002.12292)."""

from __future__ import annotations

from rlcore.registry import register
from rlcore.rewards.base import IntrinsicReward
from rlcore.rewards.counts import SimHash
from rlcore.rewards.episodic import episodic_counts
from rlcore.rewards.icm import DynamicsModels
from rlcore.rewards.rnd import _flat


@register("rewards", "ride")
class RIDE(DynamicsModels, IntrinsicReward):
    """Reward for changing the learned state embedding, discounted by episodic visits.

    The bonus is ``||phi(s') - phi(s)|| / sqrt(N_episode(s'))``: how far the action moved
    the agent in an embedding trained by forward and inverse dynamics (as in ICM), divided
    by the square root of how often the episode has visited ``s'``'s cell so far (the
    current visit included). Cells are SimHash codes (:class:`rlcore.rewards.counts.SimHash`),
    so continuous states are counted too. Episodic memory: see
    :mod:`rlcore.rewards.episodic` (per env over the batch, reset at ``dones``).

    Args:
        forward_weight: weight of the forward loss against the inverse loss (default 0.5).
        bits: SimHash code length for the episodic counts (default 16).
        Other keyword arguments are those of ``IntrinsicReward``.
    """

    def __init__(self, observation_space, action_space, device="cpu", *, forward_weight: float = 0.5,
                 bits: int = 16, **kwargs):
        super().__init__(observation_space, action_space, device, **kwargs)
        self._build_dynamics(forward_weight)
        self.hash = SimHash(observation_space, int(bits), self.generator, self.device)

    def _bonus(self, obs, actions, next_obs, dones):
        lead = next_obs.shape[:2]
        phi = self.nets["phi"]
        impact = (phi(self.prep(_flat(next_obs))) - phi(self.prep(_flat(obs)))).norm(dim=-1)
        counts = episodic_counts(self.hash(_flat(next_obs)).reshape(lead), dones)
        return impact.reshape(lead) / counts.sqrt()
