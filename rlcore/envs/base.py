"""The batched-environment interface every rlcore agent talks to.

A ``VecEnv`` steps ``num_envs`` copies of one environment and speaks torch tensors on
``device``. Finished sub-environments are reset within the same ``step`` call (same-step
autoreset): ``obs`` already holds the first observation of the next episode, while
``next_obs`` holds the true last observation, which is what bootstrapping needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import gymnasium as gym
import torch


@dataclass(slots=True)
class Step:
    """Result of one batched step; every field has leading dimension ``num_envs``."""

    obs: torch.Tensor  # observation to act on next (reset obs where an episode ended)
    reward: torch.Tensor  # float32 [num_envs]
    terminated: torch.Tensor  # bool [num_envs]: the MDP ended (no bootstrap)
    truncated: torch.Tensor  # bool [num_envs]: time limit hit (bootstrap from next_obs)
    next_obs: torch.Tensor  # true next observation (final obs where an episode ended)


@runtime_checkable
class VecEnv(Protocol):
    """What agents and the trainer rely on.

    Attributes: ``env_id``, ``num_envs``, ``device``, ``single_observation_space``,
    ``single_action_space``. Actions passed to ``step`` are tensors of shape
    ``[num_envs, *action_shape]`` (int64 for Discrete, float32 for Box).
    """

    env_id: str
    num_envs: int
    device: torch.device
    single_observation_space: gym.Space
    single_action_space: gym.Space

    def reset(self, seed: int | None = None) -> torch.Tensor:
        """Reset every sub-environment; ``seed`` seeds sub-env i with ``seed + i``."""
        ...

    def step(self, action: torch.Tensor) -> Step:
        """Advance every sub-environment by one step."""
        ...

    def pop_episodes(self) -> list[tuple[float, int]]:
        """(undiscounted return, length) of episodes finished since the last call."""
        ...

    def close(self) -> None: ...
