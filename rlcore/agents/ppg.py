"""Phasic Policy Gradient (Cobbe et al., 2020, arXiv:2009.04416)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import nn

from rlcore.agents.base import Agent, doc
from rlcore.agents.onpolicy import RolloutCollector, act_actor_critic, build_actor_critic, default_distribution
from rlcore.agents.ppo import PPOConfig, PPOLearner
from rlcore.errors import RLCoreError
from rlcore.registry import register
from rlcore.utils import adam


@dataclass
class PPGConfig(PPOConfig):
    """PPG hyperparameters: PPO's fields for the policy phase, plus the auxiliary phase."""

    n_epochs: int = doc(1, "Policy-phase passes over each rollout (E_pi).")
    n_policy_iters: int = doc(32, "Policy-phase updates between auxiliary phases (N_pi).")
    aux_epochs: int = doc(6, "Passes of each auxiliary phase over the stored rollouts (E_aux).")
    aux_batch_size: int = doc(256, "Minibatch size (transitions) of the auxiliary phase.")
    clone_coef: float = doc(1.0, "Weight of the behaviour-cloning KL that keeps the policy in place (beta_clone).")

    def validate(self) -> None:
        super().validate()
        if self.n_policy_iters < 1 or self.aux_epochs < 0 or self.aux_batch_size < 1:
            raise RLCoreError("PPGConfig n_policy_iters and aux_batch_size must be at least 1 and aux_epochs "
                              "at least 0.")


@register("agents", "ppg")
class PPG(Agent):
    """PPG: PPO updates on separate policy and value networks (the policy phase), and every
    ``n_policy_iters`` updates an auxiliary phase over the stored rollouts that trains the
    value network and an auxiliary value head on the policy's features, with a KL term that
    keeps the policy's outputs where they were.

    Parts: encoder (default ``mlp``), policy ``ppg_actor_critic``, storage ``rollout``,
    distribution ``categorical`` (Discrete) or ``diag_gaussian`` (Box).
    """

    Config = PPGConfig
    action_spaces = (gym.spaces.Discrete, gym.spaces.Box)
    policy_family = "ppg"
    default_num_envs = 8

    def default_parts(self):
        return {"encoder": "mlp", "policy": "ppg_actor_critic", "storage": "rollout",
                "distribution": default_distribution(self.action_space)}

    def _distribution_fits(self, cls):
        return None if cls.registry_key in ("categorical", "diag_gaussian") else "has no closed-form KL here"

    def _build(self) -> None:
        build_actor_critic(self)
        self.augmentation = None  # the policy phase is PPO's learner, which reads this slot
        self.optimizer = adam(self.policy.parameters(), lr=self.config.lr, eps=1e-5)

    def make_learner(self):
        return PPGLearner(self)

    def make_collector(self):
        return RolloutCollector(self)

    def networks(self):
        return {"policy": self.policy, "optimizer": self.optimizer}

    def act(self, obs, deterministic=True):
        return act_actor_critic(self, obs, deterministic)

    def iterate(self):
        steps = self.collector.collect(self.storage.size)
        return steps, {**self.learner.update(), **self.reward_metrics}


class PPGLearner:
    """The policy phase is :class:`PPOLearner`; each rollout's observations and returns are
    kept until the auxiliary phase, which runs every ``n_policy_iters`` updates."""

    def __init__(self, agent: PPG):
        self.agent = agent
        self.policy_phase = PPOLearner(agent)
        self.obs: list[torch.Tensor] = []
        self.returns: list[torch.Tensor] = []

    def update(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        metrics = self.policy_phase.update()
        st = a.storage
        n = st.size * st.num_envs
        self.obs.append(st.obs.reshape(n, *st.obs.shape[2:]).clone())
        self.returns.append(st.returns.reshape(n).clone())
        if len(self.obs) >= c.n_policy_iters:
            metrics.update(self.auxiliary_phase())
        return metrics

    def auxiliary_phase(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        obs, returns = torch.cat(self.obs), torch.cat(self.returns)
        self.obs, self.returns = [], []
        with torch.no_grad():
            old = a.policy.distribution(obs)
        total, steps = torch.zeros(3), 0
        for _ in range(c.aux_epochs):
            perm = torch.randperm(len(returns), generator=a.generator).to(returns.device)
            for start in range(0, len(returns), c.aux_batch_size):
                idx = perm[start:start + c.aux_batch_size]
                dist, aux, value = a.policy.aux_forward(obs[idx])
                kl = kl_divergence(rows(old, idx), dist).mean()
                aux_loss = 0.5 * (aux - returns[idx]).pow(2).mean()
                v_loss = 0.5 * (value - returns[idx]).pow(2).mean()
                loss = aux_loss + c.clone_coef * kl + v_loss
                a.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(a.policy.parameters(), c.max_grad_norm)
                a.optimizer.step()
                total += torch.stack([aux_loss, kl, v_loss]).detach().cpu()
                steps += 1
        aux_loss, kl, v_loss = (total / max(steps, 1)).tolist()
        return {"aux_value_loss": aux_loss, "aux_kl": kl, "aux_phase_value_loss": v_loss}


def rows(dist, idx: torch.Tensor):
    """The distribution ``dist`` restricted to the samples ``idx`` (a categorical or Gaussian)."""
    out = copy.copy(dist)
    for name in ("logits", "mean", "log_std", "std"):
        if hasattr(dist, name):
            setattr(out, name, getattr(dist, name)[idx])
    return out


def kl_divergence(old, new) -> torch.Tensor:
    """Per-sample KL(old || new) of two action distributions of the same kind: categorical
    (``logits``, normalised) or diagonal Gaussian (``mean``, ``log_std``)."""
    if hasattr(old, "logits"):
        return (old.logits.exp() * (old.logits - new.logits)).sum(-1)
    var_old, var_new = (2 * old.log_std).exp(), (2 * new.log_std).exp()
    return (new.log_std - old.log_std + (var_old + (old.mean - new.mean).pow(2)) / (2 * var_new) - 0.5).sum(-1)
