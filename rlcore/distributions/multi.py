"""Factored discrete distributions: Bernoulli (MultiBinary) and multi-categorical (MultiDiscrete)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlcore.registry import register

PAD = -1e9  # logit of the padding choices of shorter sub-actions (probability exactly 0)


class BernoulliDist:
    """Independent Bernoulli bits from logits ``[B, *shape]``; log-probs summed over bits."""

    def __init__(self, logits: torch.Tensor):
        self.logits = logits

    def sample(self) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(self.logits.detach())).long()

    @property
    def mode(self) -> torch.Tensor:
        return (self.logits > 0).long()

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        bits = nn.functional.binary_cross_entropy_with_logits(
            self.logits, actions.to(self.logits.dtype), reduction="none")
        return -bits.reshape(bits.shape[0], -1).sum(-1)

    def entropy(self) -> torch.Tensor:
        p = torch.sigmoid(self.logits)
        h = nn.functional.binary_cross_entropy_with_logits(self.logits, p, reduction="none")
        return h.reshape(h.shape[0], -1).sum(-1)


@register("distributions", "bernoulli")
class Bernoulli(nn.Module):
    """One independent Bernoulli per bit of a MultiBinary space (policy outputs one logit per bit).

    Actions are int64 tensors of 0/1 with the space's shape; ``mode`` sets the bits whose
    probability exceeds 1/2.
    """

    spaces = (gym.spaces.MultiBinary,)
    has_log_prob = True
    squashed = False

    def __init__(self, action_space: gym.spaces.MultiBinary):
        super().__init__()
        self.shape = tuple(action_space.shape)
        self.num_params = int(np.prod(self.shape))

    def forward(self, params: torch.Tensor) -> BernoulliDist:
        return BernoulliDist(params.reshape(params.shape[0], *self.shape))


class MultiCategoricalDist:
    """Independent categoricals over padded logits ``[B, D, max_n]``; log-probs summed over D."""

    def __init__(self, logits: torch.Tensor, shape: tuple[int, ...]):
        self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self.shape = shape

    def _out(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def sample(self) -> torch.Tensor:
        probs = self.logits.detach().exp().reshape(-1, self.logits.shape[-1])
        return self._out(torch.multinomial(probs, 1).reshape(self.logits.shape[:-1]))

    @property
    def mode(self) -> torch.Tensor:
        return self._out(self.logits.argmax(-1))

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        idx = actions.reshape(actions.shape[0], -1, 1).long()
        return self.logits.gather(-1, idx).squeeze(-1).sum(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.logits.exp() * self.logits).sum((-1, -2))


@register("distributions", "multi_categorical")
class MultiCategorical(nn.Module):
    """One categorical per dimension of a MultiDiscrete space (policy outputs ``sum(nvec)`` logits).

    Actions are int64 indices ``0 .. nvec[i] - 1`` with the space's shape (agents add the
    space's ``start`` before stepping the env). Dimensions with fewer choices are padded so
    every operation is one batched tensor operation.
    """

    spaces = (gym.spaces.MultiDiscrete,)
    has_log_prob = True
    squashed = False

    def __init__(self, action_space: gym.spaces.MultiDiscrete):
        super().__init__()
        nvec = np.asarray(action_space.nvec, dtype=np.int64)
        self.shape = tuple(nvec.shape)
        sizes = nvec.reshape(-1)
        self.num_params = int(sizes.sum())
        self.dims, self.max_n = len(sizes), int(sizes.max())
        # position of each head output inside the padded [D, max_n] grid
        pos = np.concatenate([d * self.max_n + np.arange(n) for d, n in enumerate(sizes)])
        self.register_buffer("positions", torch.as_tensor(pos), persistent=False)
        self.padded = bool((sizes != self.max_n).any())

    def forward(self, params: torch.Tensor) -> MultiCategoricalDist:
        b = params.shape[0]
        if self.padded:
            grid = params.new_full((b, self.dims * self.max_n), PAD)
            grid = grid.index_copy(1, self.positions, params)
        else:
            grid = params
        return MultiCategoricalDist(grid.reshape(b, self.dims, self.max_n), self.shape)
