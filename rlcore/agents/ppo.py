"""Proximal Policy Optimization (Schulman et al., 2017, arXiv:1707.06347)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rlcore.agents.base import Agent, doc
from rlcore.agents.onpolicy import RolloutCollector, act_actor_critic, build_actor_critic, default_distribution
from rlcore.augment.drac import augmentation_fits, build_augmentation, drac_regularizer
from rlcore.config import check_choice
from rlcore.errors import RLCoreError
from rlcore.losses import approx_kl, normalize, ppo_policy_loss, value_loss
from rlcore.registry import register
from rlcore.utils import SCHEDULES, adam, scheduled


@dataclass
class PPOConfig:
    """PPO hyperparameters (defaults follow common practice for classic control)."""

    lr: float = doc(3e-4, "Adam learning rate.")
    lr_schedule: str = doc("constant", "'constant' or 'linear' (decays to 0 over training).")
    n_steps: int = doc(128, "Steps collected per env before each update.")
    batch_size: int = doc(256, "Minibatch size (transitions) for each gradient step.")
    n_epochs: int = doc(10, "Passes over each rollout.")
    gamma: float = doc(0.99, "Discount factor.")
    gae_lambda: float = doc(0.95, "GAE lambda (bias/variance trade-off of advantages).")
    clip_range: float = doc(0.2, "Clipping range of the probability ratio.")
    clip_schedule: str = doc("constant", "'constant' or 'linear' decay of clip_range.")
    clip_range_vf: float = doc(0.0, "Value clipping range around old values; 0 disables it.")
    ent_coef: float = doc(0.0, "Entropy bonus coefficient.")
    vf_coef: float = doc(0.5, "Value loss coefficient.")
    max_grad_norm: float = doc(0.5, "Gradient norm clip.")
    target_kl: float = doc(0.0, "Stop the epoch loop early when approx KL exceeds 1.5x this; 0 disables.")
    normalize_advantage: bool = doc(True, "Standardise advantages per minibatch.")
    hidden: tuple = doc((64, 64), "Encoder hidden layer widths.")
    activation: str = doc("tanh", "Encoder activation.")
    ortho_init: bool = doc(True, "Orthogonal initialisation of the networks.")
    log_std_init: float = doc(0.0, "Initial log-std of Gaussian policies.")
    normalize_obs: bool = doc(False, "Running mean/std observation normalisation.")
    normalize_reward: bool = doc(False, "Scale rewards by the running std of returns.")
    aug_coef: float = doc(0.1, "Weight of the DrAC regulariser when an augmentation part is set.")

    def validate(self) -> None:
        for name in ("lr_schedule", "clip_schedule"):
            check_choice(self, name, SCHEDULES)
        if self.n_steps < 1 or self.batch_size < 1 or self.n_epochs < 1:
            raise RLCoreError("PPOConfig n_steps, batch_size and n_epochs must all be at least 1.")


@register("agents", "ppo")
class PPO(Agent):
    """PPO with clipped surrogate, GAE, optional value clipping and linear schedules.

    Parts: encoder (default ``mlp``), policy (``separate_actor_critic``), storage
    (``rollout``), distribution (``categorical`` for Discrete, ``diag_gaussian`` for Box),
    augmentation (default none; when set, each minibatch adds ``aug_coef`` x the DrAC
    regulariser, see :mod:`rlcore.augment.drac`).
    """

    Config = PPOConfig
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
        self.optimizer = adam(self.policy.parameters(), lr=self.config.lr, eps=1e-5)

    def networks(self):
        return {"policy": self.policy, "optimizer": self.optimizer}

    def act(self, obs, deterministic=True):
        return act_actor_critic(self, obs, deterministic)

    def make_learner(self):
        return PPOLearner(self)

    def make_collector(self):
        return RolloutCollector(self)

    def iterate(self):
        steps = self.collector.collect(self.storage.size)
        return steps, {**self.learner.update(), **self.reward_metrics}


class PPOLearner:
    """The eager PPO learner: every epoch's minibatch steps with autograd.

    :meth:`update` applies the schedules, runs :meth:`epochs` and reports the mean of each
    statistic over the minibatch steps taken. A faster learner may replace :meth:`epochs`.
    """

    def __init__(self, agent: PPO):
        self.agent = agent

    def update(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        lr = scheduled(c.lr, c.lr_schedule, a.progress_remaining())
        for group in a.optimizer.param_groups:
            group["lr"] = lr
        clip = scheduled(c.clip_range, c.clip_schedule, a.progress_remaining())
        stats, n = self.epochs(lr, clip)
        pg, vl, ent, kl, cf, aug = (stats / max(n, 1)).tolist()
        metrics = {"policy_loss": pg, "value_loss": vl, "entropy": ent, "approx_kl": kl,
                   "clip_fraction": cf, "lr": lr}
        if a.augmentation is not None:
            metrics["aug_loss"] = aug
        return metrics

    def epochs(self, lr: float, clip: float) -> tuple[torch.Tensor, int]:
        """Every epoch's minibatch steps; returns (summed stats [6], minibatch steps taken)."""
        a, c = self.agent, self.agent.config
        stats = torch.zeros(6, device=a.device)
        n = 0
        for _ in range(c.n_epochs):
            for b in a.storage.batches(c.batch_size, a.generator):
                step, kl = self.minibatch_step(b, clip)
                stats += step
                n += 1
                if c.target_kl and kl > 1.5 * c.target_kl:
                    return stats, n
        return stats, n

    def minibatch_step(self, b, clip: float) -> tuple[torch.Tensor, float]:
        """One gradient step on minibatch ``b``; returns (its stats, its approximate KL)."""
        a, c = self.agent, self.agent.config
        dist, values = a.policy(b.obs)
        log_probs = dist.log_prob(b.actions)
        adv = normalize(b.advantages) if c.normalize_advantage else b.advantages
        pg_loss, clip_frac = ppo_policy_loss(log_probs, b.log_probs, adv, clip)
        v_loss = value_loss(values, b.returns, b.values, c.clip_range_vf or None)
        entropy = dist.entropy().mean()
        loss = pg_loss + c.vf_coef * v_loss - c.ent_coef * entropy
        aug_loss = torch.zeros((), device=a.device)
        if a.augmentation is not None:
            aug_loss = drac_regularizer(a.policy, a.augmentation, b.obs, dist, values)
            loss = loss + c.aug_coef * aug_loss
        a.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(a.policy.parameters(), c.max_grad_norm)
        a.optimizer.step()
        with torch.no_grad():
            kl = approx_kl(log_probs, b.log_probs)
            stats = torch.stack([pg_loss, v_loss, entropy, kl, clip_frac, aug_loss]).detach()
        return stats, kl
