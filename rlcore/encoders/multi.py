"""An encoder for Dict observations: one sub-encoder per key, features concatenated."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore import registry
from rlcore.encoders import mlp
from rlcore.errors import RLCoreError
from rlcore.registry import register

SINGLE_KEY = "obs"  # the key a plain (non-Dict) Box observation is given


def _is_image(space: gym.spaces.Box) -> bool:
    return len(space.shape) >= 3


@register("encoders", "multi_input")
class MultiInputEncoder(nn.Module):
    """Encodes a Dict observation space (a plain Box is treated as a one-key Dict).

    Keys whose Box has 3 or more dimensions are images and go through ``image_encoder``
    (a registered encoder key, default ``nature_cnn``, built with ``image_kwargs``); every
    other key is flattened to floats. All features are concatenated in sorted key order and
    passed through an MLP of widths ``hidden`` with ``activation`` (``hidden=()`` keeps the
    concatenation). ``forward`` takes a dict of batched tensors (or a tensor for a Box space).
    """

    def __init__(self, observation_space: gym.Space, hidden: tuple[int, ...] = (64, 64),
                 activation: str = "tanh", image_encoder: str = "nature_cnn",
                 image_kwargs: dict | None = None):
        super().__init__()
        self.single = not isinstance(observation_space, gym.spaces.Dict)
        spaces = {SINGLE_KEY: observation_space} if self.single else dict(observation_space.spaces)
        self.keys = sorted(spaces)
        self.images = nn.ModuleDict()
        in_dim = 0
        for key in self.keys:
            space = spaces[key]
            if not isinstance(space, gym.spaces.Box):
                raise RLCoreError(f"multi_input needs Box sub-spaces; key {key!r} is {space}.")
            if _is_image(space):
                self.images[key] = registry.get("encoders", image_encoder)(space, **(image_kwargs or {}))
                in_dim += self.images[key].out_dim
            else:
                in_dim += int(np.prod(space.shape))
        self.head = mlp([in_dim, *hidden], activation, out_act=True)
        self.out_dim = hidden[-1] if hidden else in_dim

    def forward(self, obs) -> torch.Tensor:
        if self.single:
            obs = {SINGLE_KEY: obs}
        feats = []
        for key in self.keys:
            x = obs[key]
            if key in self.images:
                feats.append(self.images[key](x))
            else:
                feats.append(x.reshape(x.shape[0], -1).float())
        return self.head(torch.cat(feats, dim=-1))
