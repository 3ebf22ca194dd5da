"""Pieces shared by off-policy agents (DQN, SAC, TD3, DDPG), used by composition."""

from __future__ import annotations

import copy

import gymnasium as gym
import torch

from rlcore.types import ReplayBatch
from rlcore.utils import adam


def build_replay(agent) -> None:
    c = agent.config
    agent.storage = agent.make_part("storage", agent.env.single_observation_space, agent.action_space,
                                    agent.env.num_envs, c.buffer_size, agent.device,
                                    gamma=c.gamma, progress=agent.progress_remaining)


def build_twin(agent) -> None:
    """Actor + critics + target critics (and target actor when ``use_target_actor``)."""
    c = agent.config
    obs_space, act_space = agent.env.single_observation_space, agent.action_space
    dist = agent.make_part("distribution", act_space, sigma=getattr(c, "exploration_noise", 0.1))
    make_encoder = lambda: agent.make_part("encoder", obs_space)  # noqa: E731
    agent.policy = agent.make_part("policy", obs_space, act_space, make_encoder, dist,
                                   hidden=c.hidden, activation="relu",
                                   num_critics=getattr(agent, "num_critics", 2)).to(agent.device)
    agent.target_critics = copy.deepcopy(agent.policy.critics).requires_grad_(False)
    shared = getattr(c, "lr", 0.0)  # one learning rate for both when set
    agent.actor_optimizer = adam(agent.policy.actor_params(), lr=shared or c.actor_lr)
    agent.critic_optimizer = adam(agent.policy.critic_params(), lr=shared or c.critic_lr)
    agent._action_bounds()
    build_replay(agent)


def random_actions(agent, n: int) -> torch.Tensor:
    """Uniform random actions in the agent's internal action format."""
    space = agent.action_space
    if isinstance(space, gym.spaces.Discrete):
        return torch.randint(0, int(space.n), (n,), generator=agent.generator).to(agent.device)
    shape = (n, *space.shape)
    return (torch.rand(shape, generator=agent.generator) * 2.0 - 1.0).to(agent.device)


@torch.no_grad()
def act_continuous(agent, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
    """Env actions from an actor whose distribution works in ``[-1, 1]`` (SAC, TD3, DDPG)."""
    dist = agent.policy.distribution(obs)
    return agent.to_env_action(dist.mode if deterministic else dist.sample(), True)


@torch.no_grad()
def explore_continuous(agent, obs: torch.Tensor) -> torch.Tensor:
    """Exploratory actions in ``[-1, 1]``, as stored in replay."""
    return agent.policy.distribution(obs).sample()


def sample(agent) -> ReplayBatch:
    """One training minibatch from the agent's storage.

    Every off-policy update samples through here, so storage-side features (n-step
    returns, priorities) and reward-side features (intrinsic rewards) apply to all agents.
    With a ``reward`` part, its bonuses for ``(obs, actions, next_obs)`` are added to
    ``batch.rewards`` (so every TD target sees them) and the reward trains on the batch.
    """
    batch = agent.storage.sample(agent.config.batch_size, agent.generator)
    part = agent.reward
    if part is not None:
        coef = part.coefficient
        intrinsic = part.compute(batch.obs, batch.actions, batch.next_obs)
        with torch.enable_grad():
            metrics = part.update(batch)
        batch.rewards = batch.rewards + intrinsic
        agent.reward_metrics = {"intrinsic_reward": intrinsic.mean().item(), "intrinsic_coef": coef,
                                **metrics}
    return batch


def discount(agent, batch: ReplayBatch) -> float | torch.Tensor:
    """The bootstrap discount of each sample: ``batch.discounts`` (n-step storages) or gamma."""
    return agent.config.gamma if batch.discounts is None else batch.discounts


def weighted_mean(losses: torch.Tensor, batch: ReplayBatch) -> torch.Tensor:
    """Mean of per-sample ``losses``, weighted by ``batch.weights`` (prioritized replay) if set."""
    return losses.mean() if batch.weights is None else (losses * batch.weights).mean()


def reset_noise(agent, done: torch.Tensor) -> None:
    """Restart per-env exploration-noise state (e.g. ``ou_noise``) where episodes ended."""
    dist = getattr(getattr(agent, "policy", None), "dist", None)
    if hasattr(dist, "reset_noise") and bool(done.any()):
        dist.reset_noise(done)


def feedback(agent, batch: ReplayBatch, td_error: torch.Tensor) -> None:
    """Report per-sample TD errors back to a storage that uses them (prioritized replay)."""
    update = getattr(agent.storage, "update_priorities", None)
    if update is not None and batch.indices is not None:
        update(batch.indices, td_error.detach().abs())


@torch.no_grad()
def collect_transitions(agent, n_steps: int) -> int:
    """Step the env ``n_steps`` times with exploration and store transitions. Returns env steps.

    Until ``learning_starts`` env steps, actions are uniform random; after that the agent's
    ``explore`` picks them.
    """
    env, storage = agent.env, agent.storage
    obs = agent.obs
    for _ in range(n_steps):
        if agent.global_step < agent.config.learning_starts:
            action = random_actions(agent, env.num_envs)
        else:
            action = agent.explore(obs)
        s = env.step(agent.to_env_action(action, True))
        storage.add(obs, action, s.reward, s.next_obs, s.terminated, s.truncated)
        reset_noise(agent, s.terminated | s.truncated)
        obs = s.obs
        agent.global_step += env.num_envs
    agent.obs = obs
    return n_steps * env.num_envs


class TransitionCollector:
    """The eager off-policy collector: ``n`` exploration steps per env into replay."""

    def __init__(self, agent):
        self.agent = agent

    def collect(self, n: int) -> int:
        return collect_transitions(self.agent, n)
