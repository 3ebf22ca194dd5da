"""Uniform experience replay."""

from __future__ import annotations

import gymnasium as gym
import torch

from rlcore.registry import register
from rlcore.storage.spaces import action_spec, obs_map, obs_write, obs_zeros
from rlcore.types import ReplayBatch


@register("storages", "replay")
class ReplayStorage:
    """A preallocated ring buffer of transitions, sampled uniformly.

    ``size`` is the capacity in transitions (across all envs). ``next_obs`` is stored
    explicitly so autoreset never corrupts bootstrapping. Dict observation spaces are stored
    as one preallocated tensor per key and sampled as dicts of tensors.

    Each :meth:`add` writes ``num_envs`` consecutive slots, so the next transition of the
    env in slot ``i`` lies in slot ``(i + num_envs) % size``; ``ends`` marks slots where an
    episode ended (terminated or truncated) and ``total`` counts every transition ever added.
    Multi-step storages (``nstep_replay``, ``prioritized_replay``) rely on this layout.
    """

    kind = "off_policy"

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, num_envs: int,
                 size: int, device: torch.device | str = "cpu"):
        self.capacity, self.num_envs, self.device = size, num_envs, torch.device(device)
        ashape, adtype = action_spec(action_space)
        self.obs = obs_zeros(observation_space, (size,), self.device)
        self.next_obs = obs_zeros(observation_space, (size,), self.device)
        self.actions = torch.zeros(size, *ashape, dtype=adtype, device=self.device)
        self.rewards = torch.zeros(size, device=self.device)
        self.dones = torch.zeros(size, device=self.device)
        self.ends = torch.zeros(size, dtype=torch.bool, device=self.device)
        self.pos, self.count, self.total = 0, 0, 0

    def __len__(self) -> int:
        return self.count

    def add(self, obs, actions, rewards, next_obs, terminated, truncated=None) -> None:
        """Add one batched step (leading dimension ``num_envs``).

        ``terminated`` cuts bootstrapping; ``truncated`` (optional) marks time-limit ends,
        which only matter to storages that look past one step.
        """
        n = actions.shape[0]
        idx = (torch.arange(n, device=self.device) + self.pos) % self.capacity
        if self.pos + n <= self.capacity:  # contiguous fast path
            idx = slice(self.pos, self.pos + n)
        obs_write(self.obs, idx, obs)
        obs_write(self.next_obs, idx, next_obs)
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.dones[idx] = terminated.to(self.dones.dtype)
        ends = terminated.to(torch.bool)
        if truncated is not None:
            ends = ends | truncated.to(torch.bool)
        self.ends[idx] = ends
        self.pos = (self.pos + n) % self.capacity
        self.count = min(self.count + n, self.capacity)
        self.total += n

    def uniform_slots(self, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
        """``batch_size`` slot indices drawn uniformly from the filled part (one torch draw)."""
        return torch.randint(0, self.count, (batch_size,), generator=generator).to(self.device)

    def _one_step(self, idx: torch.Tensor) -> ReplayBatch:
        take = lambda x: x[idx]
        return ReplayBatch(obs_map(take, self.obs), self.actions[idx], self.rewards[idx],
                           obs_map(take, self.next_obs), self.dones[idx], indices=idx)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> ReplayBatch:
        return self._one_step(self.uniform_slots(batch_size, generator))
