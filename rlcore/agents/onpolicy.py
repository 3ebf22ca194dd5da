"""Pieces shared by on-policy actor-critic agents (PPO, A2C), used by composition."""

from __future__ import annotations

import gymnasium as gym
import torch

from rlcore.storage.rollout import RolloutStorage


def default_distribution(action_space: gym.Space) -> str:
    return "categorical" if isinstance(action_space, gym.spaces.Discrete) else "diag_gaussian"


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
    """
    c, env, policy = agent.config, agent.env, agent.policy
    obs = agent.obs
    for _ in range(storage.size):
        dist, value = policy(obs)
        action = dist.sample()
        log_prob = dist.log_prob(action)
        s = env.step(agent.to_env_action(action, agent.squashed))
        reward = s.reward
        trunc = s.truncated & ~s.terminated
        if trunc.any():
            reward = reward.clone()
            reward[trunc] += c.gamma * policy.value(s.next_obs[trunc])
        storage.add(obs, action, log_prob, value, reward, s.terminated | s.truncated)
        obs = s.obs
        agent.global_step += env.num_envs
    agent.obs = obs
    storage.finish(policy.value(obs), c.gamma, c.gae_lambda)
    return storage.size * env.num_envs


@torch.no_grad()
def act_actor_critic(agent, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
    dist = agent.policy.distribution(obs)
    action = dist.mode if deterministic else dist.sample()
    return agent.to_env_action(action, agent.squashed)
