"""Double DQN (Mnih et al., 2015; van Hasselt et al., 2016, arXiv:1509.06461)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import nn

from rlcore.agents.base import Agent, doc
from rlcore.agents.offpolicy import (TransitionCollector, build_replay, discount, feedback, random_actions,
                                     sample, weighted_mean)
from rlcore.losses import soft_update
from rlcore.registry import register
from rlcore.config import check_choice
from rlcore.utils import SCHEDULES, adam, scheduled
from rlcore.returns import td_target


@dataclass
class DQNConfig:
    """Double DQN hyperparameters (defaults suit classic control)."""

    lr: float = doc(2.3e-3, "Adam learning rate.")
    buffer_size: int = doc(100_000, "Replay capacity in transitions.")
    learning_starts: int = doc(1000, "Env steps of uniform random actions before learning.")
    batch_size: int = doc(64, "Minibatch size.")
    gamma: float = doc(0.99, "Discount factor.")
    train_freq: int = doc(256, "Env steps (per env) between training phases.")
    gradient_steps: int = doc(128, "Gradient steps per training phase.")
    target_update_interval: int = doc(10, "Env steps between hard target-network updates.")
    tau: float = doc(1.0, "Target update rate (1.0 = hard copy).")
    exploration_fraction: float = doc(0.16, "Fraction of training over which epsilon decays.")
    exploration_initial_eps: float = doc(1.0, "Initial epsilon.")
    exploration_final_eps: float = doc(0.04, "Final epsilon.")
    max_grad_norm: float = doc(10.0, "Gradient norm clip.")
    double_q: bool = doc(True, "Select next actions with the online network (Double DQN).")
    lr_schedule: str = doc("constant", "'constant' or 'linear' (decays to 0 over training).")
    hidden: tuple = doc((256, 256), "Encoder hidden layer widths.")
    activation: str = doc("relu", "Encoder activation.")
    normalize_obs: bool = doc(False, "Running mean/std observation normalisation.")

    def validate(self) -> None:
        check_choice(self, "lr_schedule", SCHEDULES)


@register("agents", "dqn")
class DQN(Agent):
    """Double DQN with a Huber loss, epsilon-greedy exploration and a target network.

    Parts: encoder (default ``mlp``), policy ``q_network``, storage ``replay``; no distribution.
    """

    Config = DQNConfig
    action_spaces = (gym.spaces.Discrete,)
    policy_family = "q_network"
    storage_kind = "off_policy"
    slots = ("encoder", "policy", "storage", "reward")

    def default_parts(self):
        return {"encoder": "mlp", "policy": "q_network", "storage": "replay"}

    def _build(self) -> None:
        c = self.config
        obs_space = self.env.single_observation_space
        make_encoder = lambda: self.make_part("encoder", obs_space, hidden=c.hidden,  # noqa: E731
                                              activation=c.activation)
        self.q = self.make_part("policy", obs_space, self.action_space, make_encoder, None).to(self.device)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.optimizer = adam(self.q.parameters(), lr=c.lr)
        build_replay(self)
        self._last_target_update = 0

    def networks(self):
        return {"q": self.q, "q_target": self.q_target, "optimizer": self.optimizer}

    def epsilon(self) -> float:
        c = self.config
        frac = min(1.0, (1.0 - self.progress_remaining()) / max(c.exploration_fraction, 1e-8))
        return c.exploration_initial_eps + frac * (c.exploration_final_eps - c.exploration_initial_eps)

    @torch.no_grad()
    def act(self, obs, deterministic=True):
        return self.q(obs).argmax(-1)

    @torch.no_grad()
    def explore(self, obs):
        greedy = self.q(obs).argmax(-1)
        n = greedy.shape[0]
        explore = torch.rand(n, generator=self.generator).to(self.device) < self.epsilon()
        return torch.where(explore, random_actions(self, n), greedy)

    def to_env_action(self, action, squashed=False):
        return action

    def make_learner(self):
        return DQNLearner(self)

    def make_collector(self):
        return TransitionCollector(self)

    def iterate(self):
        c = self.config
        steps = self.collector.collect(c.train_freq)
        metrics = {"epsilon": self.epsilon()}
        if self.global_step >= c.learning_starts:
            metrics.update(self.learner.update())
            metrics.update(self.reward_metrics)
        return steps, metrics


class DQNLearner:
    """The eager Double-DQN learner: ``gradient_steps`` Huber-loss steps, then the target update when due."""

    def __init__(self, agent):
        self.agent = agent

    def update(self, gradient_steps: int | None = None) -> dict[str, float]:
        """``gradient_steps`` steps (default: the config's); returns mean loss and Q."""
        agent = self.agent
        c = agent.config
        gradient_steps = c.gradient_steps if gradient_steps is None else gradient_steps
        lr = scheduled(c.lr, c.lr_schedule, agent.progress_remaining())
        for group in agent.optimizer.param_groups:
            group["lr"] = lr
        total = torch.zeros(2, device=agent.device)
        for _ in range(gradient_steps):
            b = sample(agent)
            with torch.no_grad():
                next_q = agent.q_target(b.next_obs)
                if c.double_q:
                    best = agent.q(b.next_obs).argmax(-1, keepdim=True)
                    next_v = next_q.gather(-1, best).squeeze(-1)
                else:
                    next_v = next_q.max(-1).values
                target = td_target(b.rewards, b.dones, next_v, discount(agent, b))
            q = agent.q(b.obs).gather(-1, b.actions.long().unsqueeze(-1)).squeeze(-1)
            loss = weighted_mean(nn.functional.smooth_l1_loss(q, target, reduction="none"), b)
            agent.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(agent.q.parameters(), c.max_grad_norm)
            agent.optimizer.step()
            feedback(agent, b, q.detach() - target)
            total += torch.stack([loss.detach(), q.detach().mean()])
        if agent.global_step - agent._last_target_update >= c.target_update_interval:
            soft_update(agent.q_target, agent.q, c.tau)
            agent._last_target_update = agent.global_step
        loss, q_mean = (total / max(gradient_steps, 1)).tolist()
        return {"loss": loss, "q_mean": q_mean}
