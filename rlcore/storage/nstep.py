"""n-step replay: sampled transitions carry discounted n-step reward sums."""

from __future__ import annotations

import gymnasium as gym
import torch

from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.returns import nstep_returns
from rlcore.storage.replay import ReplayStorage
from rlcore.storage.spaces import obs_map
from rlcore.types import ReplayBatch


def check_nstep(n_step: int, gamma: float) -> None:
    if int(n_step) < 1:
        raise RLCoreError(f"n_step must be at least 1; got {n_step}.")
    if not 0.0 <= float(gamma) <= 1.0:
        raise RLCoreError(f"gamma must lie in [0, 1]; got {gamma}.")


def nstep_batch(storage: ReplayStorage, slots: torch.Tensor, n_step: int, gamma: float) -> ReplayBatch:
    """The ``n_step`` transition window that starts at each of ``slots`` in ``storage``.

    A window follows the same env (``num_envs`` slots apart in the ring buffer) and stops
    early where that env's episode ended (terminated or truncated) or where no later
    transition has been collected yet. ``rewards`` is the discounted sum over the ``k``
    transitions used, ``discounts`` is ``gamma ** k``, ``next_obs`` the observation after
    the ``k``-th transition and ``dones`` whether that transition terminated.
    """
    s, n = storage, int(n_step)
    oldest = (s.total - s.count) % s.capacity
    offset = (slots - oldest) % s.capacity  # how many transitions are older than each slot
    steps = torch.arange(n, device=s.device) * s.num_envs
    window = (slots[:, None] + steps) % s.capacity  # [B, n] slots of the same env
    collected = offset[:, None] + steps < s.count  # [B, n] transition j exists
    next_missing = torch.cat([~collected[:, 1:], torch.ones_like(collected[:, :1])], dim=1)
    stops = s.ends[window] | next_missing
    returns, discounts, k, dones = nstep_returns(s.rewards[window], s.dones[window], stops, gamma)
    last = window.gather(1, (k - 1).unsqueeze(1)).squeeze(1)
    take = lambda x: x[slots]
    return ReplayBatch(obs_map(take, s.obs), s.actions[slots], returns,
                       obs_map(lambda x: x[last], s.next_obs), dones, discounts=discounts, indices=slots)


@register("storages", "nstep_replay")
class NStepReplay(ReplayStorage):
    """Uniform replay whose samples carry n-step returns (Sutton, 1988; used by Rainbow).

    Args:
        n_step: transitions summed per sample (default 3).
        gamma: discount used inside the sum (agents pass their own ``gamma``).

    Each sample's ``rewards`` is ``sum_{j<k} gamma^j r_{t+j}`` where ``k <= n_step`` stops
    at the end of the episode (termination or truncation) and at the newest collected
    transition; ``discounts`` is ``gamma ** k`` and ``next_obs`` the observation after ``k``
    steps, so ``rewards + discounts * (1 - dones) * V(next_obs)`` is the n-step target.
    Every :meth:`add` must hold one row per env, in the same env order.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, num_envs: int,
                 size: int, device: torch.device | str = "cpu", n_step: int = 3, gamma: float = 0.99):
        check_nstep(n_step, gamma)
        super().__init__(observation_space, action_space, num_envs, size, device)
        self.n_step, self.gamma = int(n_step), float(gamma)

    def add(self, obs, actions, rewards, next_obs, terminated, truncated=None) -> None:
        if actions.shape[0] != self.num_envs:
            raise RLCoreError(f"nstep_replay.add needs one row per env ({self.num_envs}); "
                              f"got {actions.shape[0]}.")
        super().add(obs, actions, rewards, next_obs, terminated, truncated)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> ReplayBatch:
        return nstep_batch(self, self.uniform_slots(batch_size, generator), self.n_step, self.gamma)
