"""Pieces shared by on-policy actor-critic agents (PPO, A2C), used by composition."""

from __future__ import annotations

import gymnasium as gym
import torch

from rlcore.storage.rollout import RolloutStorage
from rlcore.storage.spaces import obs_map
from rlcore.types import ReplayBatch


DEFAULT_DISTRIBUTIONS = {gym.spaces.Discrete: "categorical", gym.spaces.Box: "diag_gaussian",
                         gym.spaces.MultiDiscrete: "multi_categorical", gym.spaces.MultiBinary: "bernoulli"}


def default_distribution(action_space: gym.Space) -> str:
    """The distribution key on-policy agents use by default for ``action_space``."""
    for space_type, key in DEFAULT_DISTRIBUTIONS.items():
        if isinstance(action_space, space_type):
            return key
    return "diag_gaussian"


def build_actor_critic(agent) -> None:
    """Policy, distribution and rollout storage for an on-policy agent from its parts/config."""
    c = agent.config
    obs_space, act_space = agent.env.single_observation_space, agent.action_space
    dist = agent.make_part("distribution", act_space, log_std_init=getattr(c, "log_std_init", 0.0))
    make_encoder = lambda: agent.make_part("encoder", obs_space, hidden=c.hidden,  # noqa: E731
                                           activation=c.activation)
    agent.policy = agent.make_part("policy", obs_space, act_space, make_encoder, dist,
                                   ortho_init=c.ortho_init).to(agent.device)
    agent.squashed = bool(getattr(dist, "squashed", False))
    agent.storage = agent.make_part("storage", obs_space, act_space, agent.env.num_envs,
                                    c.n_steps, agent.device)
    agent._action_bounds()


@torch.no_grad()
def collect_rollout(agent, storage: RolloutStorage) -> int:
    """Fill ``storage`` with one rollout from ``agent.env``; compute GAE. Returns env steps.

    A time-limit truncation bootstraps by adding ``gamma * V(final_obs)`` to that reward.
    With a ``reward`` part, intrinsic rewards join the stored rewards before GAE.
    """
    c, env, policy = agent.config, agent.env, agent.policy
    obs = agent.obs
    next_obs = next_obs_buffer(agent, storage) if agent.reward is not None else None
    for t in range(storage.size):
        dist, value = policy(obs)
        action = dist.sample()
        log_prob = dist.log_prob(action)
        s = env.step(agent.to_env_action(action, agent.squashed))
        storage.add(obs, action, log_prob, value, bootstrap_truncated(agent, s), s.terminated | s.truncated)
        if next_obs is not None:
            next_obs[t].copy_(s.next_obs)
        obs = s.obs
        agent.global_step += env.num_envs
    agent.obs = obs
    if next_obs is not None:
        agent.reward_metrics = add_intrinsic_rewards(agent, storage, next_obs)
    storage.finish(policy.value(obs), c.gamma, c.gae_lambda)
    return storage.size * env.num_envs


def bootstrap_truncated(agent, s) -> torch.Tensor:
    """``s.reward`` with ``gamma * V(final_obs)`` added where an episode was truncated."""
    reward = s.reward
    trunc = s.truncated & ~s.terminated
    if trunc.any():
        reward = reward.clone()
        reward[trunc] += agent.config.gamma * agent.policy.value(obs_map(lambda x: x[trunc], s.next_obs))
    return reward


class RolloutCollector:
    """The eager on-policy collector: one rollout of ``n_steps`` per :meth:`collect`."""

    def __init__(self, agent):
        self.agent = agent

    def collect(self, n: int) -> int:
        """Fill the agent's rollout storage (``n`` must be its ``n_steps``); returns env steps."""
        storage = self.agent.storage
        if n != storage.size:
            raise ValueError(f"an on-policy rollout has {storage.size} steps per env; got n={n}.")
        return collect_rollout(self.agent, storage)


def next_obs_buffer(agent, storage: RolloutStorage) -> torch.Tensor:
    """``[n_steps, num_envs, *obs_shape]`` for the true next observations, allocated once."""
    buf = getattr(agent, "_next_obs", None)
    if buf is None or buf.shape != storage.obs.shape or buf.device != storage.obs.device:
        buf = agent._next_obs = torch.zeros_like(storage.obs)
    return buf


def add_intrinsic_rewards(agent, storage: RolloutStorage, next_obs: torch.Tensor) -> dict[str, float]:
    """Add ``agent.reward``'s bonuses to ``storage.rewards`` (call before ``finish``, so they
    reach the advantages), then train the reward on the rollout. Returns its metrics.

    The reward sees the rollout time-major (``[n_steps, num_envs]``) with its ``dones``, so
    episodic rewards keep one memory per env that restarts after each episode end.
    """
    part = agent.reward
    coef = part.coefficient
    intrinsic = part.compute(storage.obs, storage.actions, next_obs, dones=storage.dones > 0)
    storage.rewards += intrinsic
    n = storage.size * storage.num_envs
    flat = lambda x: x.reshape(n, *x.shape[2:])
    batch = ReplayBatch(flat(storage.obs), flat(storage.actions), flat(storage.rewards),
                        flat(next_obs), flat(storage.dones))
    with torch.enable_grad():
        metrics = part.update(batch)
    return {"intrinsic_reward": intrinsic.mean().item(), "intrinsic_coef": coef, **metrics}


@torch.no_grad()
def act_actor_critic(agent, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
    dist = agent.policy.distribution(obs)
    action = dist.mode if deterministic else dist.sample()
    return agent.to_env_action(action, agent.squashed)
