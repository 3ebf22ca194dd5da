"""Deep Deterministic Policy Gradient (Lillicrap et al., 2015, arXiv:1509.02971)."""

from __future__ import annotations

from dataclasses import dataclass

from rlcore.agents.base import doc
from rlcore.agents.td3 import DeterministicActorCritic, TD3Config
from rlcore.registry import register


@dataclass
class DDPGConfig(TD3Config):
    """DDPG hyperparameters: TD3's fields with one critic, no delay and no target smoothing."""

    policy_delay: int = doc(1, "Critic updates per actor update (1 for DDPG).")
    target_noise: float = doc(0.0, "Target policy smoothing noise (0 for DDPG).")


@register("agents", "ddpg")
class DDPG(DeterministicActorCritic):
    """DDPG: a deterministic actor and a single Q-critic with Polyak-averaged targets.

    Parts: encoder (default ``identity``), policy ``deterministic_twin`` with one critic,
    storage ``replay``, distribution ``normal_noise``. It shares TD3's parts as a sibling (the
    learner with ``policy_delay=1`` and no target smoothing is DDPG's update).
    """

    Config = DDPGConfig
    num_critics = 1
