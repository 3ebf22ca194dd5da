"""Typed batches passed between storages and agents (dataclasses of tensors, not dicts)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

Obs = torch.Tensor | dict[str, torch.Tensor]  # a dict of tensors for Dict observation spaces


@dataclass(slots=True)
class RolloutBatch:
    """A minibatch of on-policy experience with precomputed advantages."""

    obs: Obs
    actions: torch.Tensor
    log_probs: torch.Tensor  # log-probability of ``actions`` under the behaviour policy
    values: torch.Tensor  # value estimates at collection time
    advantages: torch.Tensor
    returns: torch.Tensor  # advantages + values (the critic's regression target)


@dataclass(slots=True)
class ReplayBatch:
    """A minibatch of off-policy transitions.

    For n-step storages ``rewards`` is the discounted sum over the ``k`` steps used,
    ``next_obs`` the observation ``k`` steps later and ``discounts`` ``gamma ** k``; the
    target is ``rewards + discounts * (1 - dones) * V(next_obs)``.
    """

    obs: Obs
    actions: torch.Tensor
    rewards: torch.Tensor  # [B] (n-step discounted sum for n-step storages)
    next_obs: Obs
    dones: torch.Tensor  # [B] float, 1.0 where the MDP terminated (no bootstrap)
    discounts: torch.Tensor | None = None  # [B] gamma**k per sample (k = steps used) for n-step storages
    weights: torch.Tensor | None = None  # [B] importance weights (prioritized replay)
    indices: torch.Tensor | None = None  # [B] storage indices (priority updates)
