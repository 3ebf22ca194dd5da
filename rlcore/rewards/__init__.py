"""Intrinsic rewards (registry kind ``rewards``).

Contract: ``cls(observation_space, action_space, device, **kwargs)`` with
``compute(obs, actions, next_obs) -> [N]`` intrinsic rewards and ``update(batch) -> dict``
that trains its own networks.

All built-in rewards derive from :class:`rlcore.rewards.base.IntrinsicReward`: ``compute``
runs without gradients, also accepts time-major ``[T, E, ...]`` inputs (returning
``[T, E]``) and an optional ``dones`` that resets episodic memories; ``update`` takes any
batch with ``obs``, ``actions`` and ``next_obs`` (a ``ReplayBatch``). Agents with a
``reward`` slot add the rewards before computing advantages (on-policy) or inside
``rlcore.agents.offpolicy.sample`` (off-policy) and train the reward there.
"""

from rlcore.rewards import counts, disagreement, e3b, icm, ngu, re3, ride, rnd  # noqa: F401
from rlcore.rewards.base import IntrinsicReward

__all__ = ["IntrinsicReward"]
