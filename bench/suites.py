"""Benchmark suite definitions: identical hyperparameters for rlcore and Stable-Baselines3."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Suite:
    key: str
    title: str
    algo: str
    env_id: str
    steps: int
    num_envs: int
    solved: float  # eval return counted as solved
    rlcore: dict[str, Any] = field(default_factory=dict)
    sb3: dict[str, Any] = field(default_factory=dict)
    sb3_policy_kwargs: dict[str, Any] = field(default_factory=dict)
    sb3_normalize_obs: bool = False


SUITES = {
    "B1": Suite("B1", "TD3 Pendulum-v1 10k", "td3", "Pendulum-v1", 10_000, 1, -200.0,
                rlcore=dict(hidden=(64, 64), batch_size=100, learning_starts=100, actor_lr=1e-3,
                            critic_lr=1e-3, exploration_noise=0.1),
                sb3=dict(batch_size=100, learning_starts=100, learning_rate=1e-3),
                sb3_policy_kwargs=dict(net_arch=[64, 64])),
    "B2": Suite("B2", "SAC Pendulum-v1 10k", "sac", "Pendulum-v1", 10_000, 1, -200.0,
                rlcore=dict(hidden=(64, 64), batch_size=100, learning_starts=100, actor_lr=1e-3,
                            critic_lr=1e-3, alpha_lr=1e-3),
                sb3=dict(batch_size=100, learning_starts=100, learning_rate=1e-3, ent_coef="auto"),
                sb3_policy_kwargs=dict(net_arch=[64, 64])),
    "B3": Suite("B3", "PPO CartPole-v1 100k", "ppo", "CartPole-v1", 100_000, 8, 475.0,
                rlcore=dict(n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                            lr=1e-3, lr_schedule="linear", clip_range=0.2, clip_schedule="linear",
                            ent_coef=0.0),
                sb3=dict(n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                         learning_rate="lin_1e-3", clip_range="lin_0.2", ent_coef=0.0),
                sb3_policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]))),
    "B4": Suite("B4", "PPO Pendulum-v1 300k", "ppo", "Pendulum-v1", 300_000, 4, -200.0,
                rlcore=dict(n_steps=1024, batch_size=256, n_epochs=2, gamma=0.9, lr=1e-3,
                            normalize_obs=True, gae_lambda=0.95, ent_coef=0.0),
                sb3=dict(n_steps=1024, batch_size=256, n_epochs=2, gamma=0.9, learning_rate=1e-3,
                         gae_lambda=0.95, ent_coef=0.0),
                sb3_policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64])),
                sb3_normalize_obs=True),
}
