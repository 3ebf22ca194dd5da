"""On-policy rollout storage with GAE."""

from __future__ import annotations

import gymnasium as gym
import torch

from rlcore.registry import register
from rlcore.returns import gae
from rlcore.storage.spaces import action_spec, obs_map, obs_write, obs_zeros
from rlcore.types import RolloutBatch


@register("storages", "rollout")
class RolloutStorage:
    """Preallocated ``[size, num_envs]`` buffers for one rollout; advantages by GAE.

    Fill with :meth:`add` exactly ``size`` times, call :meth:`finish`, then iterate
    :meth:`batches`. ``dones[t]`` marks an episode ending after step ``t`` (truncations
    must already have ``gamma * V(final_obs)`` folded into the reward). Dict observation
    spaces are stored as one preallocated tensor per key and batched as dicts of tensors.
    """

    kind = "on_policy"

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, num_envs: int,
                 size: int, device: torch.device | str = "cpu"):
        self.size, self.num_envs, self.device = size, num_envs, torch.device(device)
        ashape, adtype = action_spec(action_space)
        shape = (size, num_envs)
        self.obs = obs_zeros(observation_space, shape, self.device)
        self.actions = torch.zeros(*shape, *ashape, dtype=adtype, device=self.device)
        self.log_probs = torch.zeros(shape, device=self.device)
        self.values = torch.zeros(shape, device=self.device)
        self.rewards = torch.zeros(shape, device=self.device)
        self.dones = torch.zeros(shape, device=self.device)
        self.advantages = torch.zeros(shape, device=self.device)
        self.returns = torch.zeros(shape, device=self.device)
        self.step = 0

    def add(self, obs, actions, log_probs, values, rewards, dones) -> None:
        t = self.step
        obs_write(self.obs, t, obs)
        self.actions[t].copy_(actions)
        self.log_probs[t].copy_(log_probs)
        self.values[t].copy_(values)
        self.rewards[t].copy_(rewards)
        self.dones[t].copy_(dones)
        self.step += 1

    def add_outcome(self, rewards, dones) -> None:
        """Finish step ``self.step`` whose observation, action, log-prob and value were written
        in place (the fused acting path of :mod:`rlcore.fast`): store the outcome, advance."""
        t = self.step
        self.rewards[t].copy_(rewards)
        self.dones[t].copy_(dones)
        self.step += 1

    @property
    def full(self) -> bool:
        return self.step >= self.size

    def finish(self, last_value: torch.Tensor, gamma: float, lam: float) -> None:
        """Compute advantages and returns; ``last_value`` is V of the obs after the last step."""
        self.advantages, self.returns = gae(self.rewards, self.values, self.dones, last_value, gamma, lam)
        self.step = 0

    def batches(self, batch_size: int, generator: torch.Generator | None = None):
        """Yield shuffled minibatches of ``batch_size`` over the flattened rollout."""
        n = self.size * self.num_envs
        flat = lambda x: x.reshape(n, *x.shape[2:])  # noqa: E731
        obs = obs_map(flat, self.obs)
        tensors = [flat(t) for t in (self.actions, self.log_probs, self.values,
                                     self.advantages, self.returns)]
        perm = torch.randperm(n, generator=generator).to(self.device)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            yield RolloutBatch(obs_map(lambda x: x[idx], obs), *(t[idx] for t in tensors))  # noqa: B023
