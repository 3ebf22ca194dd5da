"""Twin Delayed DDPG (Fujimoto et al., 2018, arXiv:1802.09477)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import torch

from rlcore.agents.base import Agent, doc
from rlcore.agents.offpolicy import (act_continuous, build_twin, collect_transitions, discount, explore_continuous,
                                     feedback, sample, weighted_mean)
from rlcore.losses import polyak_
from rlcore.registry import register
from rlcore.returns import td_target


@dataclass
class TD3Config:
    """TD3 hyperparameters (DDPG uses the same fields; see DDPGConfig)."""

    actor_lr: float = doc(1e-3, "Actor learning rate.")
    critic_lr: float = doc(1e-3, "Critic learning rate.")
    lr: float = doc(0.0, "When > 0, the learning rate of the actor and the critics (overrides actor_lr and "
                    "critic_lr).")
    buffer_size: int = doc(1_000_000, "Replay capacity in transitions.")
    learning_starts: int = doc(100, "Env steps of uniform random actions before learning.")
    batch_size: int = doc(256, "Minibatch size.")
    gamma: float = doc(0.99, "Discount factor.")
    tau: float = doc(0.005, "Polyak rate of the target networks.")
    train_freq: int = doc(1, "Env steps (per env) between training phases.")
    gradient_steps: int = doc(1, "Gradient steps per training phase.")
    exploration_noise: float = doc(0.1, "Std of Gaussian exploration noise (normalised actions).")
    policy_delay: int = doc(2, "Critic updates per actor and target update.")
    target_noise: float = doc(0.2, "Std of target policy smoothing noise.")
    target_noise_clip: float = doc(0.5, "Clip of target policy smoothing noise.")
    hidden: tuple = doc((256, 256), "Actor and critic hidden layer widths.")
    normalize_obs: bool = doc(False, "Running mean/std observation normalisation.")


@register("agents", "td3")
class TD3(Agent):
    """TD3: clipped double-Q, delayed policy updates and target policy smoothing.

    Parts: encoder (default ``identity``), policy ``deterministic_twin``, storage ``replay``,
    distribution ``normal_noise`` (the exploration noise).
    """

    Config = TD3Config
    action_spaces = (gym.spaces.Box,)
    policy_family = "deterministic_twin"
    storage_kind = "off_policy"
    num_critics = 2

    def default_parts(self):
        return {"encoder": "identity", "policy": "deterministic_twin", "storage": "replay",
                "distribution": "normal_noise"}

    def _distribution_fits(self, cls):
        return None if not cls.has_log_prob else "is not an exploration-noise distribution"

    def _build(self) -> None:
        build_twin(self)
        self.target_actor = copy.deepcopy(
            torch.nn.ModuleList([self.policy.actor_encoder, self.policy.actor])).requires_grad_(False)
        self._updates = 0
        online = [*self.policy.critics.parameters(), *self.policy.actor_encoder.parameters(),
                  *self.policy.actor.parameters()]
        self._polyak_pairs = ([*self.target_critics.parameters(), *self.target_actor.parameters()], online)

    def networks(self):
        return {"policy": self.policy, "target_critics": self.target_critics,
                "target_actor": self.target_actor, "actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer}

    def state_dict(self):
        return {**super().state_dict(), "updates": torch.tensor(self._updates)}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._updates = int(state.get("updates", 0))  # keeps the actor-update phase on resume

    def _target_action(self, obs):
        enc, head = self.target_actor
        return torch.tanh(head(enc(obs)))

    def act(self, obs, deterministic=True):
        return act_continuous(self, obs, deterministic)

    def explore(self, obs):
        return explore_continuous(self, obs)

    def iterate(self):
        c = self.config
        steps = collect_transitions(self, c.train_freq)
        metrics: dict[str, float] = {}
        if self.global_step >= c.learning_starts:
            for _ in range(c.gradient_steps):
                metrics = self.update() or metrics
        return steps, {**metrics, **self.reward_metrics}

    def update(self) -> dict[str, float]:
        fast = self.fast_kernel()
        if fast is not None:
            return fast.update()
        c = self.config
        b = sample(self)
        with torch.no_grad():
            next_a = self._target_action(b.next_obs)
            if c.target_noise > 0:
                noise = (torch.randn_like(next_a) * c.target_noise).clamp(-c.target_noise_clip, c.target_noise_clip)
                next_a = (next_a + noise).clamp(-1.0, 1.0)
            next_q = self.target_critics(b.next_obs, next_a).min(0).values
            target = td_target(b.rewards, b.dones, next_q, discount(self, b))
        qs = self.policy.q_values(b.obs, b.actions)  # [num_critics, B]
        td = qs - target
        critic_loss = weighted_mean(td.pow(2), b) * len(qs)  # the sum of the critics' losses
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        feedback(self, b, td.detach().abs().mean(0))
        self._updates += 1
        metrics = {"critic_loss": critic_loss.item() / len(qs)}
        if self._updates % c.policy_delay == 0:
            a = self.policy.distribution(b.obs).mode
            self.policy.freeze_critics(True)
            actor_loss = -self.policy.critics.first(b.obs, a).mean()
            self.policy.freeze_critics(False)
            self.actor_optimizer.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_optimizer.step()
            polyak_(*self._polyak_pairs, c.tau)
            metrics["actor_loss"] = actor_loss.item()
        return metrics
