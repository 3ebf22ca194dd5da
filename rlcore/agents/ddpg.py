"""Deep Deterministic Policy Gradient (Lillicrap et al., 2015, arXiv:1509.02971)."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import torch

from rlcore.agents.base import Agent, doc
from rlcore.agents.offpolicy import TransitionCollector, act_continuous, explore_continuous
from rlcore.agents.td3 import TD3Config, TD3Learner, build_deterministic, deterministic_networks, off_policy_iterate
from rlcore.registry import register


@dataclass
class DDPGConfig(TD3Config):
    """DDPG hyperparameters: TD3's fields with one critic, no delay and no target smoothing."""

    policy_delay: int = doc(1, "Critic updates per actor update (1 for DDPG).")
    target_noise: float = doc(0.0, "Target policy smoothing noise (0 for DDPG).")


@register("agents", "ddpg")
class DDPG(Agent):
    """DDPG: a deterministic actor and a single Q-critic with Polyak-averaged targets.

    Parts: encoder (default ``identity``), policy ``deterministic_twin`` with one critic,
    storage ``replay``, distribution ``normal_noise``. It is built from TD3's pieces (the
    learner with ``policy_delay=1`` and no target smoothing is DDPG's update).
    """

    Config = DDPGConfig
    action_spaces = (gym.spaces.Box,)
    policy_family = "deterministic_twin"
    storage_kind = "off_policy"
    num_critics = 1

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
        self.updates = int(state.get("updates", 0))

    def act(self, obs, deterministic=True):
        return act_continuous(self, obs, deterministic)

    def explore(self, obs):
        return explore_continuous(self, obs)

    def iterate(self):
        return off_policy_iterate(self)
