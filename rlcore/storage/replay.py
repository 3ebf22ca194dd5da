"""Uniform experience replay."""

from __future__ import annotations

import gymnasium as gym
import torch

from rlcore.registry import register
from rlcore.storage.spaces import action_spec, obs_spec
from rlcore.types import ReplayBatch


@register("storages", "replay")
class ReplayStorage:
    """A preallocated ring buffer of transitions, sampled uniformly.

    ``size`` is the capacity in transitions (across all envs). ``next_obs`` is stored
    explicitly so autoreset never corrupts bootstrapping.
    """

    kind = "off_policy"

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, num_envs: int,
                 size: int, device: torch.device | str = "cpu"):
        self.capacity, self.num_envs, self.device = size, num_envs, torch.device(device)
        oshape, odtype = obs_spec(observation_space)
        ashape, adtype = action_spec(action_space)
        self.obs = torch.zeros(size, *oshape, dtype=odtype, device=self.device)
        self.next_obs = torch.zeros(size, *oshape, dtype=odtype, device=self.device)
        self.actions = torch.zeros(size, *ashape, dtype=adtype, device=self.device)
        self.rewards = torch.zeros(size, device=self.device)
        self.dones = torch.zeros(size, device=self.device)
        self.pos, self.count = 0, 0

    def __len__(self) -> int:
        return self.count

    def add(self, obs, actions, rewards, next_obs, terminated) -> None:
        """Add one batched step (leading dimension ``num_envs``)."""
        n = obs.shape[0]
        idx = (torch.arange(n, device=self.device) + self.pos) % self.capacity
        if self.pos + n <= self.capacity:  # contiguous fast path
            idx = slice(self.pos, self.pos + n)
        self.obs[idx] = obs
        self.next_obs[idx] = next_obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.dones[idx] = terminated.to(self.dones.dtype)
        self.pos = (self.pos + n) % self.capacity
        self.count = min(self.count + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> ReplayBatch:
        idx = torch.randint(0, self.count, (batch_size,), generator=generator).to(self.device)
        return ReplayBatch(self.obs[idx], self.actions[idx], self.rewards[idx],
                           self.next_obs[idx], self.dones[idx], indices=idx)
