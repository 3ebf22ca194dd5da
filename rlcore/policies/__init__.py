"""Policies: networks that combine encoders with action and value heads.

Every policy is built as ``cls(observation_space, action_space, make_encoder, distribution,
**kwargs)`` where ``make_encoder()`` returns a fresh encoder and ``distribution`` is a
distribution module (None for Q-networks). ``family`` says which agents can use it.
"""

from rlcore.policies.actor_critic import ActorCritic, SeparateActorCritic
from rlcore.policies.daac import DAACActorCritic
from rlcore.policies.ppg import PPGActorCritic
from rlcore.policies.qnet import QNetwork
from rlcore.policies.twin import DeterministicTwin, StochasticTwin

FAMILIES = ("actor_critic", "deterministic_twin", "stochastic_twin", "q_network", "ppg", "daac")

__all__ = ["ActorCritic", "SeparateActorCritic", "QNetwork", "DeterministicTwin", "StochasticTwin", "PPGActorCritic", "DAACActorCritic", "FAMILIES"]
