"""Proximal Policy Optimization (Schulman et al., 2017, arXiv:1707.06347)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rlcore.agents.base import Agent, doc
from rlcore.agents.onpolicy import act_actor_critic, build_actor_critic, collect_rollout, default_distribution
from rlcore.augment.drac import augmentation_fits, build_augmentation, drac_regularizer
from rlcore.errors import RLCoreError
from rlcore.losses import approx_kl, normalize, ppo_policy_loss, value_loss
from rlcore.registry import register
from rlcore.utils import adam


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
            if getattr(self, name) not in ("constant", "linear"):
                raise RLCoreError(f"PPOConfig field {name!r} got {getattr(self, name)!r}; accepted: constant, linear.")
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

    def iterate(self):
        steps = collect_rollout(self, self.storage)
        return steps, {**self.update(), **self.reward_metrics}

    def _scheduled(self, value: float, schedule: str) -> float:
        return value * self.progress_remaining() if schedule == "linear" else value

    def update(self) -> dict[str, float]:
        c = self.config
        lr = self._scheduled(c.lr, c.lr_schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        clip = self._scheduled(c.clip_range, c.clip_schedule)
        fast = self.fast_kernel()
        if fast is not None:
            sums, n = fast.update(lr, clip)
            stats = torch.tensor([*sums, 0.0])
        else:
            stats, n = self._update_eager(clip)
        pg, vl, ent, kl, cf, aug = (stats / max(n, 1)).tolist()
        metrics = {"policy_loss": pg, "value_loss": vl, "entropy": ent, "approx_kl": kl,
                   "clip_fraction": cf, "lr": lr}
        if self.augmentation is not None:
            metrics["aug_loss"] = aug
        return metrics

    def _update_eager(self, clip: float) -> tuple[torch.Tensor, int]:
        """Every epoch's minibatch steps with autograd; returns (summed stats, minibatches)."""
        c = self.config
        stats = torch.zeros(6, device=self.device)
        n = 0
        for _ in range(c.n_epochs):
            kl_stop = False
            for b in self.storage.batches(c.batch_size, self.generator):
                dist, values = self.policy(b.obs)
                log_probs = dist.log_prob(b.actions)
                adv = normalize(b.advantages) if c.normalize_advantage else b.advantages
                pg_loss, clip_frac = ppo_policy_loss(log_probs, b.log_probs, adv, clip)
                v_loss = value_loss(values, b.returns, b.values, c.clip_range_vf or None)
                entropy = dist.entropy().mean()
                loss = pg_loss + c.vf_coef * v_loss - c.ent_coef * entropy
                aug_loss = torch.zeros((), device=self.device)
                if self.augmentation is not None:
                    aug_loss = drac_regularizer(self.policy, self.augmentation, b.obs, dist, values)
                    loss = loss + c.aug_coef * aug_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.parameters(), c.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    kl = approx_kl(log_probs, b.log_probs)
                    stats += torch.stack([pg_loss, v_loss, entropy, kl, clip_frac, aug_loss]).detach()
                n += 1
                if c.target_kl and kl > 1.5 * c.target_kl:
                    kl_stop = True
                    break
            if kl_stop:
                break
        return stats, n
