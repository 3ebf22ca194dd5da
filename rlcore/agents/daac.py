"""Decoupled Advantage Actor-Critic (Raileanu & Fergus, 2021, arXiv:2102.10330)."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import nn

from rlcore.agents.base import Agent, doc
from rlcore.agents.onpolicy import RolloutCollector, act_actor_critic, build_actor_critic, default_distribution
from rlcore.config import check_choice
from rlcore.errors import RLCoreError
from rlcore.losses import normalize, ppo_policy_loss, value_loss
from rlcore.registry import register
from rlcore.utils import SCHEDULES, adam, scheduled


@dataclass
class DAACConfig:
    """DAAC hyperparameters (defaults follow the paper's Procgen settings where they apply)."""

    lr: float = doc(5e-4, "Adam learning rate of the policy and of the value network.")
    lr_schedule: str = doc("constant", "'constant' or 'linear' (decays to 0 over training).")
    n_steps: int = doc(128, "Steps collected per env before each update.")
    batch_size: int = doc(256, "Minibatch size (transitions) for each gradient step.")
    policy_epochs: int = doc(1, "Passes of the policy network over each rollout.")
    value_epochs: int = doc(9, "Passes of the value network over a rollout when it is trained.")
    value_freq: int = doc(1, "Updates between value-network phases.")
    gamma: float = doc(0.99, "Discount factor.")
    gae_lambda: float = doc(0.95, "GAE lambda.")
    clip_range: float = doc(0.2, "Clipping range of the probability ratio.")
    clip_range_vf: float = doc(0.2, "Value clipping range around old values; 0 disables it.")
    ent_coef: float = doc(0.01, "Entropy bonus coefficient.")
    adv_coef: float = doc(0.25, "Weight of the advantage-prediction loss in the policy loss.")
    max_grad_norm: float = doc(0.5, "Gradient norm clip (each network).")
    hidden: tuple = doc((64, 64), "Encoder hidden layer widths.")
    activation: str = doc("tanh", "Encoder activation.")
    ortho_init: bool = doc(True, "Orthogonal initialisation of the networks.")
    log_std_init: float = doc(0.0, "Initial log-std of Gaussian policies.")
    normalize_obs: bool = doc(False, "Running mean/std observation normalisation.")
    normalize_reward: bool = doc(False, "Scale rewards by the running std of returns.")

    def validate(self) -> None:
        check_choice(self, "lr_schedule", SCHEDULES)
        if min(self.n_steps, self.batch_size, self.policy_epochs, self.value_freq) < 1 or self.value_epochs < 0:
            raise RLCoreError("DAACConfig n_steps, batch_size, policy_epochs and value_freq must be at least 1 "
                              "and value_epochs at least 0.")


@register("agents", "daac")
class DAAC(Agent):
    """DAAC: a policy network trained with PPO's clipped loss plus an advantage-prediction loss,
    and a separate value network trained for ``value_epochs`` every ``value_freq`` updates, so
    the policy's features need not predict values.

    Parts: encoder (default ``mlp``), policy ``daac_actor_critic``, storage ``rollout``,
    distribution ``categorical`` (Discrete) or ``diag_gaussian`` (Box).
    """

    Config = DAACConfig
    action_spaces = (gym.spaces.Discrete, gym.spaces.Box)
    policy_family = "daac"
    default_num_envs = 8

    def default_parts(self):
        return {"encoder": "mlp", "policy": "daac_actor_critic", "storage": "rollout",
                "distribution": default_distribution(self.action_space)}

    def _distribution_fits(self, cls):
        return None if cls.has_log_prob else "has no log-probability"

    def _build(self) -> None:
        build_actor_critic(self)
        self.actor_optimizer = adam(self.policy.actor_params(), lr=self.config.lr, eps=1e-5)
        self.critic_optimizer = adam(self.policy.critic_params(), lr=self.config.lr, eps=1e-5)

    def make_learner(self):
        return DAACLearner(self)

    def make_collector(self):
        return RolloutCollector(self)

    def networks(self):
        return {"policy": self.policy, "actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer}

    def act(self, obs, deterministic=True):
        return act_actor_critic(self, obs, deterministic)

    def iterate(self):
        steps = self.collector.collect(self.storage.size)
        return steps, {**self.learner.update(), **self.reward_metrics}


class DAACLearner:
    """The policy phase (clipped surrogate + ``adv_coef`` x advantage regression - entropy) on
    the policy network; every ``value_freq`` updates, the value phase on the value network."""

    def __init__(self, agent: DAAC):
        self.agent = agent
        self.updates = 0

    def update(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        lr = scheduled(c.lr, c.lr_schedule, a.progress_remaining())
        for opt in (a.actor_optimizer, a.critic_optimizer):
            for group in opt.param_groups:
                group["lr"] = lr
        metrics = {**self.policy_phase(), "lr": lr}
        self.updates += 1
        if self.updates % c.value_freq == 0:
            metrics["value_loss"] = self.value_phase()
        return metrics

    def policy_phase(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        total, n = torch.zeros(4), 0
        for _ in range(c.policy_epochs):
            for b in a.storage.batches(c.batch_size, a.generator):
                dist, adv_pred = a.policy.policy_and_advantage(b.obs, b.actions)
                adv = normalize(b.advantages)
                pg_loss, clip_frac = ppo_policy_loss(dist.log_prob(b.actions), b.log_probs, adv, c.clip_range)
                adv_loss = (adv_pred - adv).pow(2).mean()
                entropy = dist.entropy().mean()
                loss = pg_loss + c.adv_coef * adv_loss - c.ent_coef * entropy
                step(a.actor_optimizer, loss, a.policy.actor_params(), c.max_grad_norm)
                total += torch.stack([pg_loss, adv_loss, entropy, clip_frac]).detach().cpu()
                n += 1
        pg, adv_l, ent, cf = (total / max(n, 1)).tolist()
        return {"policy_loss": pg, "adv_loss": adv_l, "entropy": ent, "clip_fraction": cf}

    def value_phase(self) -> float:
        a, c = self.agent, self.agent.config
        total, n = 0.0, 0
        for _ in range(c.value_epochs):
            for b in a.storage.batches(c.batch_size, a.generator):
                loss = value_loss(a.policy.value(b.obs), b.returns, b.values, c.clip_range_vf or None)
                step(a.critic_optimizer, loss, a.policy.critic_params(), c.max_grad_norm)
                total += loss.item()
                n += 1
        return total / max(n, 1)


def step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, params, max_grad_norm: float) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
