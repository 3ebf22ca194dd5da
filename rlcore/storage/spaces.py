"""Tensor shapes and dtypes for storing observations and actions.

Observations are a tensor, or for a ``gym.spaces.Dict`` space a dict of tensors (one per
key, each preallocated). The helpers below treat both forms alike so storages need no
special cases: :func:`obs_zeros` allocates, :func:`obs_map` applies a function per tensor,
:func:`obs_write` assigns rows.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

from rlcore.errors import RLCoreError

Obs = torch.Tensor | dict[str, torch.Tensor]


def _box_spec(space: gym.Space) -> tuple[tuple[int, ...], torch.dtype]:
    if not isinstance(space, gym.spaces.Box):
        raise RLCoreError(f"Observation space {space} cannot be stored; accepted: Box, or Dict of Box.")
    dtype = torch.uint8 if space.dtype == np.uint8 else torch.float32
    return tuple(space.shape), dtype


def obs_spec(space: gym.Space):
    """``(shape, dtype)`` of one observation, or a dict of them for a Dict space."""
    if isinstance(space, gym.spaces.Dict):
        return {key: _box_spec(sub) for key, sub in space.spaces.items()}
    return _box_spec(space)


def obs_zeros(space: gym.Space, lead: tuple[int, ...], device: torch.device) -> Obs:
    """Zeros of shape ``[*lead, *obs_shape]`` (per key for a Dict space)."""
    spec = obs_spec(space)
    if isinstance(spec, dict):
        return {k: torch.zeros(*lead, *shape, dtype=dt, device=device) for k, (shape, dt) in spec.items()}
    shape, dtype = spec
    return torch.zeros(*lead, *shape, dtype=dtype, device=device)


def obs_map(fn: Callable[[torch.Tensor], torch.Tensor], obs: Obs) -> Obs:
    """``fn`` applied to the tensor, or to every tensor of a dict observation."""
    if isinstance(obs, dict):
        return {k: fn(v) for k, v in obs.items()}
    return fn(obs)


def obs_write(buffer: Obs, index, value: Obs) -> None:
    """``buffer[index] = value`` for tensors and dicts of tensors alike."""
    if isinstance(buffer, dict):
        for k, buf in buffer.items():
            buf[index] = value[k]
    else:
        buffer[index] = value


def obs_batch_size(obs: Obs) -> int:
    """Leading dimension of a batched observation."""
    return next(iter(obs.values())).shape[0] if isinstance(obs, dict) else obs.shape[0]


def action_spec(space: gym.Space) -> tuple[tuple[int, ...], torch.dtype]:
    """Stored shape and dtype of one action: int64 for Discrete, MultiDiscrete and
    MultiBinary (of shape ``space.shape``), float32 for Box."""
    if isinstance(space, gym.spaces.Discrete):
        return (), torch.int64
    if isinstance(space, (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
        return tuple(space.shape), torch.int64
    if isinstance(space, gym.spaces.Box):
        return tuple(space.shape), torch.float32
    raise RLCoreError(f"Action space {space} is not supported yet; accepted: Discrete, Box, "
                      "MultiDiscrete or MultiBinary.")
