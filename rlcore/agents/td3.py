"""Twin Delayed DDPG (Fujimoto et al., 2018, arXiv:1802.09477)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import torch

from rlcore.agents.base import Agent, doc
from rlcore.agents.offpolicy import (TransitionCollector, act_continuous, build_twin, discount, explore_continuous,
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


def build_deterministic(agent) -> None:
    """Actor, critics, their targets (target actor included) and replay for TD3 and DDPG."""
    build_twin(agent)
    agent.target_actor = copy.deepcopy(
        torch.nn.ModuleList([agent.policy.actor_encoder, agent.policy.actor])).requires_grad_(False)
    agent.updates = 0  # critic updates so far (the actor updates every policy_delay of them)
    online = [*agent.policy.critics.parameters(), *agent.policy.actor_encoder.parameters(),
              *agent.policy.actor.parameters()]
    agent.polyak_pairs = ([*agent.target_critics.parameters(), *agent.target_actor.parameters()], online)


def deterministic_networks(agent) -> dict:
    return {"policy": agent.policy, "target_critics": agent.target_critics, "target_actor": agent.target_actor,
            "actor_optimizer": agent.actor_optimizer, "critic_optimizer": agent.critic_optimizer}


def off_policy_iterate(agent) -> tuple[int, dict[str, float]]:
    """Collect ``train_freq`` steps per env, then ``gradient_steps`` updates once learning started."""
    c = agent.config
    steps = agent.collector.collect(c.train_freq)
    metrics: dict[str, float] = {}
    if agent.global_step >= c.learning_starts:
        for _ in range(c.gradient_steps):
            metrics = agent.learner.update() or metrics
    return steps, {**metrics, **agent.reward_metrics}


class DeterministicActorCritic(Agent):
    """What TD3 and DDPG share: a deterministic tanh actor, Q-critics with Polyak-averaged
    targets, exploration noise and replay; the two differ in their config and critic count."""

    action_spaces = (gym.spaces.Box,)
    policy_family = "deterministic_twin"
    storage_kind = "off_policy"

    def default_parts(self):
        return {"encoder": "identity", "policy": "deterministic_twin", "storage": "replay",
                "distribution": "normal_noise"}

    def _distribution_fits(self, cls):
        return None if not cls.has_log_prob else "is not an exploration-noise distribution"

    def _build(self) -> None:
        build_deterministic(self)

    def make_learner(self):
        return TD3Learner(self)

    def make_collector(self):
        return TransitionCollector(self)

    def networks(self):
        return deterministic_networks(self)

    def state_dict(self):
        return {**super().state_dict(), "updates": torch.tensor(self.updates)}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.updates = int(state.get("updates", 0))  # keeps the actor-update phase on resume

    def act(self, obs, deterministic=True):
        return act_continuous(self, obs, deterministic)

    def explore(self, obs):
        return explore_continuous(self, obs)

    def iterate(self):
        return off_policy_iterate(self)


@register("agents", "td3")
class TD3(DeterministicActorCritic):
    """TD3: clipped double-Q, delayed policy updates and target policy smoothing.

    Parts: encoder (default ``identity``), policy ``deterministic_twin``, storage ``replay``,
    distribution ``normal_noise`` (the exploration noise).
    """

    Config = TD3Config
    num_critics = 2


class TD3Learner:
    """The eager TD3/DDPG learner: a critic step on every call; every ``policy_delay`` calls an
    actor step and Polyak averaging of the targets. Target smoothing when ``target_noise > 0``."""

    def __init__(self, agent):
        self.agent = agent

    def target_action(self, obs: torch.Tensor) -> torch.Tensor:
        enc, head = self.agent.target_actor
        return torch.tanh(head(enc(obs)))

    def update(self) -> dict[str, float]:
        a, c = self.agent, self.agent.config
        b = sample(a)
        with torch.no_grad():
            next_a = self.target_action(b.next_obs)
            if c.target_noise > 0:
                noise = (torch.randn_like(next_a) * c.target_noise).clamp(-c.target_noise_clip, c.target_noise_clip)
                next_a = (next_a + noise).clamp(-1.0, 1.0)
            next_q = a.target_critics(b.next_obs, next_a).min(0).values
            target = td_target(b.rewards, b.dones, next_q, discount(a, b))
        qs = a.policy.q_values(b.obs, b.actions)  # [num_critics, B]
        td = qs - target
        critic_loss = weighted_mean(td.pow(2), b) * len(qs)  # the sum of the critics' losses
        a.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        a.critic_optimizer.step()
        feedback(a, b, td.detach().abs().mean(0))
        a.updates += 1
        metrics = {"critic_loss": critic_loss.item() / len(qs)}
        if a.updates % c.policy_delay == 0:
            act = a.policy.distribution(b.obs).mode
            a.policy.freeze_critics(True)
            actor_loss = -a.policy.critics.first(b.obs, act).mean()
            a.policy.freeze_critics(False)
            a.actor_optimizer.zero_grad(set_to_none=True)
            actor_loss.backward()
            a.actor_optimizer.step()
            polyak_(*a.polyak_pairs, c.tau)
            metrics["actor_loss"] = actor_loss.item()
        return metrics
