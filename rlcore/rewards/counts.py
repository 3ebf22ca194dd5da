"""Count-based exploration with SimHash (Tang et al., 2017, arXiv:1611.04717)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.rewards.base import IntrinsicReward
from rlcore.rewards.rnd import _flat

MAX_BITS = 24  # counts live in a dense table of 2**bits cells


class SimHash:
    """Locality-sensitive ``bits``-bit codes of observations.

    Observations are mapped to ``[-1, 1]`` per element by a fixed map (the space's bounds
    where finite, ``tanh`` where not, ``x / 127.5 - 1`` for bytes), then bit ``i`` is
    ``sign(a_i . (g(s) - p_i))``: the side of a random hyperplane with Gaussian normal
    ``a_i`` through a random point ``p_i`` of the cube. Planes through random points (not
    all through the origin, as in plain SimHash) also split low-dimensional states by
    position, not only by direction. Nearby states share codes; the map never changes, so
    counts stay consistent over training.
    """

    def __init__(self, space: gym.Space, bits: int, generator: torch.Generator,
                 device: torch.device):
        if not 1 <= bits <= MAX_BITS:
            raise RLCoreError(f"bits must be between 1 and {MAX_BITS}; got {bits}.")
        dim = int(np.prod(space.shape))
        low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        bounded = np.isfinite(low) & np.isfinite(high) & (np.abs(low) < 1e6) & (np.abs(high) < 1e6)
        self.byte = space.dtype == np.uint8
        as_t = lambda x: torch.as_tensor(x, dtype=torch.float32, device=device)
        self.low = as_t(np.where(bounded, low, 0.0))
        self.span = as_t(np.where(bounded, np.maximum(high - low, 1e-8), 1.0))
        self.bounded = torch.as_tensor(bounded, device=device)
        self.normals = torch.randn(dim, bits, generator=generator).to(device)
        points = torch.rand(dim, bits, generator=generator).to(device) * 2.0 - 1.0
        self.offsets = (self.normals * points).sum(0)  # a_i . p_i
        self.powers = (2 ** torch.arange(bits, dtype=torch.int64)).to(device)

    def squash(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations ``[B, ...]`` -> fixed features in ``[-1, 1]``, ``[B, dim]``."""
        x = obs.reshape(obs.shape[0], -1).float()
        if self.byte:
            return x / 127.5 - 1.0
        scaled = 2.0 * (x - self.low) / self.span - 1.0
        return torch.where(self.bounded, scaled.clamp(-1.0, 1.0), torch.tanh(x))

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        """``[B]`` int64 codes."""
        bits = (self.squash(obs) @ self.normals - self.offsets) > 0
        return (bits.to(torch.int64) * self.powers).sum(-1)


@register("rewards", "pseudo_counts")
class PseudoCounts(IntrinsicReward):
    """Count-based bonus ``1 / sqrt(n(s'))`` over SimHash cells.

    Next observations are hashed to ``bits``-bit codes (:class:`SimHash`) and visits are
    counted per code. ``n`` is the count from earlier ``update`` calls plus the visits to
    the same code in the current batch, so a state repeated within one batch already
    scores lower. ``update`` adds the batch's visits to the table (no networks). Off-policy,
    each sampled minibatch is counted, so counts grow with how often a transition is
    replayed, alike for all transitions of a uniform buffer.

    Args:
        bits: code length (default 16; at most 24).
        Other keyword arguments are those of ``IntrinsicReward`` (``obs_norm`` is unused).
    """

    def __init__(self, observation_space, action_space, device="cpu", *, bits: int = 16, **kwargs):
        kwargs["obs_norm"] = False
        super().__init__(observation_space, action_space, device, **kwargs)
        self.hash = SimHash(observation_space, int(bits), self.generator, self.device)
        self.counts = torch.zeros(2 ** int(bits), dtype=torch.int64, device=self.device)

    def _bonus(self, obs, actions, next_obs, dones):
        codes = self.hash(_flat(next_obs))
        _, inverse, in_batch = torch.unique(codes, return_inverse=True, return_counts=True)
        n = self.counts[codes] + in_batch[inverse]
        return n.float().rsqrt().reshape(next_obs.shape[:2])

    def update(self, batch):
        codes = self.hash(batch.next_obs)
        self.counts.index_add_(0, codes, torch.ones_like(codes))
        return {"pseudo_counts_cells": float((self.counts > 0).sum())}

    def _extra_state(self):
        return {"counts": self.counts}

    def _load_extra_state(self, state):
        self.counts.copy_(state["counts"])
