"""Proportional prioritized experience replay (Schaul et al., 2016, arXiv:1511.05952)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import torch

from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.storage.nstep import check_nstep, nstep_batch
from rlcore.storage.replay import ReplayStorage
from rlcore.storage.sumtree import SumTree
from rlcore.types import ReplayBatch


def importance_weights(probs: torch.Tensor, size: int, beta: float) -> torch.Tensor:
    """``w_i = (size * P(i)) ** -beta``, divided by the batch's largest weight (so ``w <= 1``)."""
    w = (size * probs).pow(-beta)
    return w / w.max()


@register("storages", "prioritized_replay")
class PrioritizedReplay(ReplayStorage):
    """Replay sampled in proportion to priority ``p_i ** alpha`` (proportional variant).

    Args:
        alpha: how strongly priorities skew sampling (0 = uniform; default 0.6).
        beta: initial importance-sampling exponent, annealed linearly to 1 (default 0.4).
        eps: added to ``|td_error|`` so no transition gets zero priority (default 1e-6).
        beta_steps: :meth:`sample` calls over which ``beta`` reaches 1 when no ``progress``
            is given (default 100,000).
        progress: optional callable returning the fraction of training remaining (1 -> 0);
            agents pass theirs so ``beta`` reaches 1 at the end of training.
        n_step, gamma: as in ``nstep_replay``; ``n_step=1`` (default) gives one-step samples.

    New transitions get the largest priority seen so far. Priorities live in a
    :class:`~rlcore.storage.sumtree.SumTree`; sampling is stratified (one uniform draw per
    equal slice of the total priority). Batches carry ``weights`` (importance weights,
    normalised by the batch maximum) and ``indices``; agents report ``|td_error|`` back
    through :meth:`update_priorities`.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, num_envs: int,
                 size: int, device: torch.device | str = "cpu", alpha: float = 0.6, beta: float = 0.4,
                 eps: float = 1e-6, beta_steps: int = 100_000,
                 progress: Callable[[], float] | None = None, n_step: int = 1, gamma: float = 0.99):
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not 0.0 <= float(value) <= 1.0:
                raise RLCoreError(f"prioritized_replay {name} must lie in [0, 1]; got {value}.")
        check_nstep(n_step, gamma)
        super().__init__(observation_space, action_space, num_envs, size, device)
        self.alpha, self.beta0, self.eps = float(alpha), float(beta), float(eps)
        self.beta_steps, self.progress = max(1, int(beta_steps)), progress
        self.n_step, self.gamma = int(n_step), float(gamma)
        self.tree = SumTree(size, self.device)
        self.max_priority = 1.0
        self.samples = 0

    @property
    def beta(self) -> float:
        """The current importance-sampling exponent (``beta`` annealed linearly to 1)."""
        if self.progress is not None:
            done = 1.0 - float(self.progress())
        else:
            done = self.samples / self.beta_steps
        return self.beta0 + (1.0 - self.beta0) * min(1.0, max(0.0, done))

    def add(self, obs, actions, rewards, next_obs, terminated, truncated=None) -> None:
        n = actions.shape[0]
        if self.n_step > 1 and n != self.num_envs:
            raise RLCoreError(f"prioritized_replay.add with n_step > 1 needs one row per env "
                              f"({self.num_envs}); got {n}.")
        slots = (torch.arange(n, device=self.device) + self.pos) % self.capacity
        super().add(obs, actions, rewards, next_obs, terminated, truncated)
        self.tree.update(slots, torch.full((n,), self.max_priority ** self.alpha))

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> ReplayBatch:
        total = self.tree.total
        u = torch.rand(batch_size, generator=generator, dtype=torch.float64).to(self.device)
        values = (torch.arange(batch_size, device=self.device, dtype=torch.float64) + u) * (total / batch_size)
        slots = self.tree.find(values).clamp(0, self.count - 1)
        probs = self.tree.get(slots) / total
        if self.n_step > 1:
            batch = nstep_batch(self, slots, self.n_step, self.gamma)
        else:
            batch = self._one_step(slots)
        batch.weights = importance_weights(probs, self.count, self.beta).to(torch.float32)
        self.samples += 1
        return batch

    def update_priorities(self, indices: torch.Tensor, td_errors: torch.Tensor) -> None:
        """Set the priorities of ``indices`` to ``(|td_error| + eps) ** alpha``."""
        priority = td_errors.detach().abs().to(torch.float64) + self.eps
        self.max_priority = max(self.max_priority, float(priority.max()))
        self.tree.update(indices, priority.pow(self.alpha))
