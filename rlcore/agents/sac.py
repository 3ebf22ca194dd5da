"""Soft Actor-Critic with automatic entropy tuning (Haarnoja et al., 2018, arXiv:1812.05905)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from rlcore.agents.base import Agent, doc
from rlcore.agents.offpolicy import (TransitionCollector, act_continuous, build_twin, discount, explore_continuous,
                                     feedback, sample, weighted_mean)
from rlcore.agents.td3 import off_policy_iterate
from rlcore.losses import polyak_
from rlcore.registry import register
from rlcore.utils import adam
from rlcore.returns import td_target


@dataclass
class SACConfig:
    """SAC hyperparameters."""

    actor_lr: float = doc(1e-3, "Actor learning rate.")
    critic_lr: float = doc(1e-3, "Critic learning rate.")
    lr: float = doc(0.0, "When > 0, the learning rate of the actor and the critics (overrides actor_lr and "
                    "critic_lr).")
    alpha_lr: float = doc(1e-3, "Entropy temperature learning rate.")
    buffer_size: int = doc(1_000_000, "Replay capacity in transitions.")
    learning_starts: int = doc(100, "Env steps of uniform random actions before learning.")
    batch_size: int = doc(256, "Minibatch size.")
    gamma: float = doc(0.99, "Discount factor.")
    tau: float = doc(0.005, "Polyak rate of the target critics.")
    train_freq: int = doc(1, "Env steps (per env) between training phases.")
    gradient_steps: int = doc(1, "Gradient steps per training phase.")
    init_alpha: float = doc(1.0, "Initial entropy temperature.")
    autotune_alpha: bool = doc(True, "Learn alpha to reach the target entropy.")
    target_entropy: float = doc(0.0, "Target entropy; 0 means -action_dim.")
    hidden: tuple = doc((256, 256), "Actor and critic hidden layer widths.")
    normalize_obs: bool = doc(False, "Running mean/std observation normalisation.")


@register("agents", "sac")
class SAC(Agent):
    """SAC: squashed-Gaussian actor, twin critics with clipped double-Q, learned temperature.

    Parts: encoder (default ``identity``, features then pass through ``hidden`` MLPs),
    policy ``stochastic_twin``, storage ``replay``, distribution ``squashed_gaussian``.
    """

    Config = SACConfig
    action_spaces = (gym.spaces.Box,)
    policy_family = "stochastic_twin"
    storage_kind = "off_policy"

    def default_parts(self):
        return {"encoder": "identity", "policy": "stochastic_twin", "storage": "replay",
                "distribution": "squashed_gaussian"}

    def _distribution_fits(self, cls):
        if not (cls.has_log_prob and cls.squashed):
            return "is not a squashed distribution with log-probabilities"
        return None

    def _build(self) -> None:
        c = self.config
        build_twin(self)
        act_dim = int(np.prod(self.action_space.shape))
        self.target_entropy = c.target_entropy or -float(act_dim)
        self.log_alpha = torch.tensor(math.log(c.init_alpha), device=self.device, requires_grad=True)
        self.alpha_optimizer = adam([self.log_alpha], lr=c.alpha_lr)
        self.target_params = list(self.target_critics.parameters())  # Polyak-averaged towards:
        self.critic_params = list(self.policy.critics.parameters())

    def make_learner(self):
        return SACLearner(self)

    def make_collector(self):
        return TransitionCollector(self)

    def networks(self):
        return {"policy": self.policy, "target_critics": self.target_critics,
                "actor_optimizer": self.actor_optimizer, "critic_optimizer": self.critic_optimizer,
                "alpha_optimizer": self.alpha_optimizer, "alpha": _ParamBox(self.log_alpha)}

    def act(self, obs, deterministic=True):
        return act_continuous(self, obs, deterministic)

    def explore(self, obs):
        return explore_continuous(self, obs)

    def iterate(self):
        return off_policy_iterate(self)


class SACLearner:
    """The eager SAC learner: a critic step, an actor step, a temperature step (when
    ``autotune_alpha``) and Polyak averaging of the target critics per call."""

    def __init__(self, agent: SAC):
        self.agent = agent

    def update(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        b = sample(a)
        alpha = a.log_alpha.detach().exp()
        with torch.no_grad():
            next_a, next_logp = a.policy.distribution(b.next_obs).rsample_log_prob()
            next_q = a.target_critics(b.next_obs, next_a).min(0).values
            target = td_target(b.rewards, b.dones, next_q - alpha * next_logp, discount(a, b))
        qs = a.policy.q_values(b.obs, b.actions)  # [num_critics, B]
        td = qs - target
        critic_loss = weighted_mean(td.pow(2), b) * len(qs)  # the sum of the critics' losses
        a.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        a.critic_optimizer.step()
        feedback(a, b, td.detach().abs().mean(0))

        act, logp = a.policy.distribution(b.obs).rsample_log_prob()
        a.policy.freeze_critics(True)
        q_pi = a.policy.q_values(b.obs, act).min(0).values
        a.policy.freeze_critics(False)
        actor_loss = (alpha * logp - q_pi).mean()
        a.actor_optimizer.zero_grad(set_to_none=True)
        if c.autotune_alpha:  # disjoint parameters (alpha is detached above), so one backward serves both
            alpha_loss = -(a.log_alpha * (logp.detach() + a.target_entropy)).mean()
            a.alpha_optimizer.zero_grad(set_to_none=True)
            (actor_loss + alpha_loss).backward()
            a.alpha_optimizer.step()
        else:
            actor_loss.backward()
        a.actor_optimizer.step()
        polyak_(a.target_params, a.critic_params, c.tau)
        return {"critic_loss": critic_loss.item() / len(qs), "actor_loss": actor_loss.item(),
                "alpha": alpha.item(), "entropy": -logp.mean().item()}


class _ParamBox:
    """Gives a bare tensor a ``state_dict`` so it can be checkpointed with the networks."""

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor

    def state_dict(self):
        return {"value": self.tensor.detach().clone()}

    def load_state_dict(self, state):
        with torch.no_grad():
            self.tensor.copy_(state["value"])
