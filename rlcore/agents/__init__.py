"""Agents: one file per algorithm, each a documented Config dataclass plus the agent."""

from rlcore.agents.a2c import A2C, A2CConfig
from rlcore.agents.base import Agent
from rlcore.agents.daac import DAAC, DAACConfig
from rlcore.agents.ddpg import DDPG, DDPGConfig
from rlcore.agents.dqn import DQN, DQNConfig
from rlcore.agents.drqv2 import DrQV2, DrQV2Config
from rlcore.agents.ppg import PPG, PPGConfig
from rlcore.agents.ppo import PPO, PPOConfig
from rlcore.agents.sac import SAC, SACConfig
from rlcore.agents.td3 import TD3, TD3Config

__all__ = ["Agent", "PPO", "PPOConfig", "A2C", "A2CConfig", "DQN", "DQNConfig", "SAC", "SACConfig",
           "TD3", "TD3Config", "DDPG", "DDPGConfig", "DrQV2", "DrQV2Config", "PPG", "PPGConfig", "DAAC",
           "DAACConfig"]
