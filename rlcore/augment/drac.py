"""Data-regularised actor-critic (DrAC; Raileanu et al., 2021, arXiv:2006.12862).

On-policy agents with an ``augmentation`` part add, on every minibatch, a regulariser that
makes the policy and the value function agree on an observation and its augmented copy::

    G_pi = KL(pi(.|obs) || pi(.|aug(obs)))      with pi(.|obs) held fixed (detached)
    G_V  = (V(aug(obs)) - V(obs))^2             with V(obs) held fixed (detached)
    loss = agent loss + aug_coef * (G_pi + G_V)

The KL is estimated from actions sampled from ``pi(.|obs)``: ``log pi(a|obs) - log pi(a|aug(obs))``,
whose gradient is the negative log-likelihood of those actions under the augmented observation,
as in the paper's implementation. The returns, advantages and the agent's own loss keep using
the unaugmented observations.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from torch import nn

from rlcore.errors import RLCoreError


def drac_loss(log_probs: torch.Tensor, aug_log_probs: torch.Tensor, values: torch.Tensor,
              aug_values: torch.Tensor) -> torch.Tensor:
    """DrAC regulariser ``G_pi + G_V`` (to minimise) from per-sample ``[B]`` tensors.

    ``log_probs`` and ``aug_log_probs`` score the same actions (drawn from the clean policy) under
    the clean and the augmented observations; ``values`` and ``aug_values`` are the critic's
    outputs on them. The clean terms are detached, so gradients flow through the augmented
    branch only.
    """
    policy_term = (log_probs.detach() - aug_log_probs).mean()
    value_term = (aug_values - values.detach()).pow(2).mean()
    return policy_term + value_term


def drac_regularizer(policy: nn.Module, augmentation: nn.Module, obs: torch.Tensor, dist: Any,
                     values: torch.Tensor) -> torch.Tensor:
    """:func:`drac_loss` for a minibatch ``obs`` whose clean ``dist, values = policy(obs)`` are given.

    Byte observations are cast with ``.float()`` (values stay 0..255) before augmenting.
    """
    with torch.no_grad():
        actions = dist.sample()
        log_probs = dist.log_prob(actions)
    aug_dist, aug_values = policy(augmentation(obs.float()))
    return drac_loss(log_probs, aug_dist.log_prob(actions), values, aug_values)


def _probe(module: nn.Module, space: gym.Space) -> None:
    """Run ``module`` on a zero batch of ``space`` without touching the global RNG state."""
    x = torch.zeros(2, *space.shape)
    with torch.random.fork_rng(devices=[]):
        y = module(x)
    if tuple(y.shape) != tuple(x.shape):
        raise RLCoreError(f"its output shape {tuple(y.shape)} differs from its input shape {tuple(x.shape)}.")


def augmentation_fits(make: Any, space: gym.Space, detail: bool = False) -> str | None:
    """None if ``make()`` builds a module that transforms batches of ``space``, else the reason
    (for ``Agent._fits``; ``detail`` appends the augmentation's own error message)."""
    if not isinstance(space, gym.spaces.Box):
        return f"cannot transform {type(space).__name__} observations (a Box space is needed)"
    try:
        _probe(make(), space)
    except (RLCoreError, TypeError) as exc:
        reason = f"cannot transform observations of shape {tuple(space.shape)}"
        return f"{reason} ({str(exc).rstrip('.')})" if detail else reason
    return None


def build_augmentation(agent) -> nn.Module | None:
    """The agent's augmentation module (with its ``augmentation_kwargs``), or None if unset.

    It is tried once on a zero batch of the env's observation space, so a part that cannot
    handle the observations is refused at build time with a one-sentence RLCoreError.
    """
    key = agent.parts.get("augmentation")
    if key is None:
        return None
    module = agent.make_part("augmentation")
    reason = augmentation_fits(lambda: module, agent.env.single_observation_space, detail=True)
    if reason is not None:
        raise RLCoreError(f"augmentation {key!r} does not fit {agent.name}: it {reason}.")
    return module.to(agent.device)
