"""Random Encoders for Efficient Exploration (Seo et al., 2021, arXiv:2102.09430)."""

from __future__ import annotations

from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.rewards.base import IntrinsicReward
from rlcore.rewards.episodic import batch_knn_distance
from rlcore.rewards.rnd import _flat


@register("rewards", "re3")
class RE3(IntrinsicReward):
    """State entropy estimated by k-nearest-neighbour distances in a random embedding.

    A randomly initialised encoder, never trained, embeds the next observations of the
    batch; each one's bonus is ``log(1 + d_k)`` with ``d_k`` the distance to its ``k``-th
    nearest neighbour among all the other transitions of the same ``compute`` call (the
    whole rollout on-policy, the minibatch off-policy). Isolated states score high, crowded
    ones low. ``update`` trains nothing and returns ``{}``.

    Args:
        k: which neighbour (default 3; capped at the batch size minus one).
        Other keyword arguments are those of ``IntrinsicReward``.
    """

    trainable = False

    def __init__(self, observation_space, action_space, device="cpu", *, k: int = 3, **kwargs):
        super().__init__(observation_space, action_space, device, **kwargs)
        if k < 1:
            raise RLCoreError(f"k must be at least 1; got {k}.")
        self.k = int(k)
        self.track(encoder=self.embedding().requires_grad_(False))

    def _bonus(self, obs, actions, next_obs, dones):
        emb = self.nets["encoder"](self.prep(_flat(next_obs)))
        return batch_knn_distance(emb, self.k).log1p().reshape(next_obs.shape[:2])
