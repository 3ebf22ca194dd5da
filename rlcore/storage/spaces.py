"""Tensor shapes and dtypes for storing observations and actions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from rlcore.errors import RLCoreError


def obs_spec(space: gym.Space) -> tuple[tuple[int, ...], torch.dtype]:
    dtype = torch.uint8 if space.dtype == np.uint8 else torch.float32
    return tuple(space.shape), dtype


def action_spec(space: gym.Space) -> tuple[tuple[int, ...], torch.dtype]:
    if isinstance(space, gym.spaces.Discrete):
        return (), torch.int64
    if isinstance(space, gym.spaces.Box):
        return tuple(space.shape), torch.float32
    raise RLCoreError(f"Action space {space} is not supported yet; accepted: Discrete or Box.")
