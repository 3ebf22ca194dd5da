"""Intrinsic rewards (registry kind ``rewards``).

Contract: ``cls(observation_space, action_space, device, **kwargs)`` with
``compute(obs, actions, next_obs) -> [N]`` intrinsic rewards and ``update(batch) -> dict``
that trains its own networks.
"""
