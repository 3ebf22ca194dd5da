"""Advantage Actor-Critic (synchronous A3C; Mnih et al., 2016, arXiv:1602.01783)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rlcore.agents.base import Agent, doc
from rlcore.agents.onpolicy import RolloutCollector, act_actor_critic, build_actor_critic, default_distribution
from rlcore.augment.drac import augmentation_fits, build_augmentation, drac_regularizer
from rlcore.losses import normalize
from rlcore.registry import register
from rlcore.config import check_choice
from rlcore.utils import SCHEDULES, adam, scheduled


@dataclass
class A2CConfig:
    """A2C hyperparameters (RMSprop, short rollouts, one gradient step per rollout)."""

    lr: float = doc(7e-4, "Learning rate.")
    lr_schedule: str = doc("constant", "'constant' or 'linear' (decays to 0 over training).")
    optimizer: str = doc("rmsprop", "'rmsprop' (alpha 0.99, eps 1e-5) or 'adam'.")
    n_steps: int = doc(5, "Steps collected per env before each update.")
    gamma: float = doc(0.99, "Discount factor.")
    gae_lambda: float = doc(1.0, "GAE lambda; 1.0 gives plain n-step advantages.")
    ent_coef: float = doc(0.0, "Entropy bonus coefficient.")
    vf_coef: float = doc(0.5, "Value loss coefficient.")
    max_grad_norm: float = doc(0.5, "Gradient norm clip.")
    normalize_advantage: bool = doc(False, "Standardise advantages per update.")
    hidden: tuple = doc((64, 64), "Encoder hidden layer widths.")
    activation: str = doc("tanh", "Encoder activation.")
    ortho_init: bool = doc(True, "Orthogonal initialisation of the networks.")
    log_std_init: float = doc(0.0, "Initial log-std of Gaussian policies.")
    normalize_obs: bool = doc(False, "Running mean/std observation normalisation.")
    normalize_reward: bool = doc(False, "Scale rewards by the running std of returns.")
    aug_coef: float = doc(0.1, "Weight of the DrAC regulariser when an augmentation part is set.")

    def validate(self) -> None:
        check_choice(self, "optimizer", ("rmsprop", "adam"))
        check_choice(self, "lr_schedule", SCHEDULES)


@register("agents", "a2c")
class A2C(Agent):
    """A2C: one policy-gradient + value step on each short rollout.

    Parts as for PPO: encoder ``mlp``, policy ``separate_actor_critic``, storage ``rollout``,
    distribution ``categorical`` (Discrete) or ``diag_gaussian`` (Box), augmentation (default
    none; when set, the update adds ``aug_coef`` x the DrAC regulariser, see
    :mod:`rlcore.augment.drac`).
    """

    Config = A2CConfig
    default_num_envs = 8
    slots = Agent.slots + ("augmentation",)

    def default_parts(self):
        return {"encoder": "mlp", "policy": "separate_actor_critic", "storage": "rollout",
                "distribution": default_distribution(self.action_space), "augmentation": None}

    def _fits(self, role, cls):
        if role == "augmentation":
            return augmentation_fits(cls, self.observation_space)
        return super()._fits(role, cls)

    def _distribution_fits(self, cls):
        return None if cls.has_log_prob else "has no log-probability"

    def _build(self) -> None:
        build_actor_critic(self)
        self.augmentation = build_augmentation(self)
        c = self.config
        if c.optimizer == "rmsprop":
            self.optimizer = torch.optim.RMSprop(self.policy.parameters(), lr=c.lr, alpha=0.99, eps=1e-5)
        else:
            self.optimizer = adam(self.policy.parameters(), lr=c.lr)

    def networks(self):
        return {"policy": self.policy, "optimizer": self.optimizer}

    def act(self, obs, deterministic=True):
        return act_actor_critic(self, obs, deterministic)

    def make_learner(self):
        return A2CLearner(self)

    def make_collector(self):
        return RolloutCollector(self)

    def iterate(self):
        steps = self.collector.collect(self.storage.size)
        return steps, {**self.learner.update(), **self.reward_metrics}


class A2CLearner:
    """The eager A2C learner: one policy-gradient and value step on the whole rollout."""

    def __init__(self, agent):
        self.agent = agent

    def update(self) -> dict[str, float]:
        agent = self.agent
        c = agent.config
        lr = scheduled(c.lr, c.lr_schedule, agent.progress_remaining())
        for group in agent.optimizer.param_groups:
            group["lr"] = lr
        b = next(agent.storage.batches(agent.storage.size * agent.storage.num_envs, agent.generator))
        dist, values = agent.policy(b.obs)
        adv = normalize(b.advantages) if c.normalize_advantage else b.advantages
        pg_loss = -(adv * dist.log_prob(b.actions)).mean()
        v_loss = (b.returns - values).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = pg_loss + c.vf_coef * v_loss - c.ent_coef * entropy
        if agent.augmentation is not None:
            aug_loss = drac_regularizer(agent.policy, agent.augmentation, b.obs, dist, values)
            loss = loss + c.aug_coef * aug_loss
        agent.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(agent.policy.parameters(), c.max_grad_norm)
        agent.optimizer.step()
        metrics = {"policy_loss": pg_loss.item(), "value_loss": v_loss.item(),
                   "entropy": entropy.item(), "lr": lr}
        if agent.augmentation is not None:
            metrics["aug_loss"] = aug_loss.item()
        return metrics
