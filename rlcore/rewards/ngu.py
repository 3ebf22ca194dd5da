"""Never Give Up's intrinsic reward (Badia et al., 2020, arXiv:2002.06038)."""

from __future__ import annotations

import torch

from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.rewards.base import IntrinsicReward, inverse_loss
from rlcore.rewards.episodic import knn_sq_distances
from rlcore.rewards.rnd import _flat
from rlcore.utils import RunningMeanStd


@register("rewards", "ngu")
class NGU(IntrinsicReward):
    """An episodic novelty bonus, scaled up for states that are also new across episodes.

    *Episodic part.* Observations are embedded by a network trained with an
    inverse-dynamics loss. For ``s'`` the ``k`` nearest embeddings among the episode's
    earlier steps give squared distances ``d^2``, divided by their running mean; a kernel
    ``eps / (max(d^2 - cluster_distance, 0) + eps)`` turns each into a similarity, and
    ``r_episodic = 1 / (sqrt(1 + sum kernel) + c)``, or 0 when the square root exceeds
    ``max_similarity``. The ``1 +`` counts the current visit (our choice; it keeps the
    first step of an episode at about 1 instead of ``1 / c``). Episodic memory: see
    :mod:`rlcore.rewards.episodic` (per env over the batch, reset at ``dones``).

    *Life-long part.* An RND error ``err`` gives ``alpha = 1 + (err - mean) / std`` with
    running statistics, clipped to ``[1, max_modulation]``. The bonus is
    ``r_episodic * alpha``.

    Args:
        k: neighbours (default 10). kernel_epsilon: ``eps`` (1e-4).
        cluster_distance: (0.008). similarity_constant: ``c`` (1e-3).
        max_similarity: (8.0). max_modulation: ``L`` (5.0).
        Other keyword arguments are those of ``IntrinsicReward``.
    """

    def __init__(self, observation_space, action_space, device="cpu", *, k: int = 10,
                 kernel_epsilon: float = 1e-4, cluster_distance: float = 0.008,
                 similarity_constant: float = 1e-3, max_similarity: float = 8.0,
                 max_modulation: float = 5.0, **kwargs):
        super().__init__(observation_space, action_space, device, **kwargs)
        if k < 1 or kernel_epsilon <= 0 or max_modulation < 1:
            raise RLCoreError(f"ngu needs k >= 1, kernel_epsilon > 0 and max_modulation >= 1; "
                              f"got {k}, {kernel_epsilon} and {max_modulation}.")
        self.k, self.eps, self.cluster = int(k), float(kernel_epsilon), float(cluster_distance)
        self.c, self.max_sim, self.max_mod = float(similarity_constant), float(max_similarity), float(max_modulation)
        d = self.latent_dim
        self.track(phi=self.embedding(), inverse=self.head(2 * d, self.action_dim),
                   target=self.embedding().requires_grad_(False), predictor=self.embedding())
        self.dist_rms = RunningMeanStd((), self.device)
        self.err_rms = RunningMeanStd((), self.device)

    def rnd_error(self, x: torch.Tensor) -> torch.Tensor:
        return (self.nets["predictor"](x) - self.nets["target"](x)).pow(2).mean(-1)

    def episodic(self, emb: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        """``[T, E]`` episodic bonuses of embeddings ``[T, E, d]``."""
        d2 = knn_sq_distances(emb, dones, self.k)
        finite = torch.isfinite(d2)
        if finite.any():
            self.dist_rms.update(d2[finite])
        scaled = d2 / self.dist_rms.mean.float().clamp_min(1e-8)
        kernel = self.eps / ((scaled - self.cluster).clamp_min(0.0) + self.eps)
        similarity = (1.0 + torch.where(finite, kernel, 0.0).sum(-1)).sqrt() + self.c
        return torch.where(similarity > self.max_sim, 0.0, 1.0 / similarity)

    def modulation(self, x: torch.Tensor) -> torch.Tensor:
        """Life-long novelty ``alpha`` in ``[1, max_modulation]`` for prepared obs ``[B, ...]``."""
        err = self.rnd_error(x)
        self.err_rms.update(err)
        alpha = 1.0 + (err - self.err_rms.mean) / (self.err_rms.var.sqrt() + 1e-8)
        return alpha.clamp(1.0, self.max_mod).float()

    def _bonus(self, obs, actions, next_obs, dones):
        lead = next_obs.shape[:2]
        x = self.prep(_flat(next_obs))
        emb = self.nets["phi"](x).reshape(*lead, -1)
        return self.episodic(emb, dones) * self.modulation(x).reshape(lead)

    def _loss(self, obs, actions, next_obs):
        z, z_next = self.nets["phi"](obs), self.nets["phi"](next_obs)
        inv = inverse_loss(self.nets["inverse"](torch.cat([z, z_next], -1)), actions, self.action_space)
        rnd = self.rnd_error(next_obs).mean()
        return inv + rnd, {"inverse_loss": inv, "rnd_loss": rnd}

    def _extra_state(self):
        return {"dist_rms": self.dist_rms.state_dict(), "err_rms": self.err_rms.state_dict()}

    def _load_extra_state(self, state):
        self.dist_rms.load_state_dict(state["dist_rms"])
        self.err_rms.load_state_dict(state["err_rms"])
