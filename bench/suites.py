"""Benchmark suite definitions: identical hyperparameters for rlcore, Stable-Baselines3 and the
peers (SBX takes SB3's settings; RLtools' Python package takes its own names for the same
values, and trains continuous actions only, so it has no entry for discrete suites)."""

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
    rltools: dict[str, Any] | None = None  # keyword arguments of rltools.SAC/TD3/PPO; None: unsupported


# RLtools' networks: input -> 64 -> 64 -> output (three layers), as the other libraries' (64, 64).
_RLT_NETS = dict(ACTOR_HIDDEN_DIM=64, ACTOR_NUM_LAYERS=3, CRITIC_HIDDEN_DIM=64, CRITIC_NUM_LAYERS=3)


SUITES = {
    "B1": Suite("B1", "TD3 Pendulum-v1 10k", "td3", "Pendulum-v1", 10_000, 1, -200.0,
                rlcore=dict(hidden=(64, 64), batch_size=100, learning_starts=100, actor_lr=1e-3,
                            critic_lr=1e-3, exploration_noise=0.1),
                sb3=dict(batch_size=100, learning_starts=100, learning_rate=1e-3),
                sb3_policy_kwargs=dict(net_arch=[64, 64]),
                rltools=dict(STEP_LIMIT=10_000, ACTOR_BATCH_SIZE=100, CRITIC_BATCH_SIZE=100, N_WARMUP_STEPS=100,
                             OPTIMIZER_ALPHA=1e-3, EXPLORATION_NOISE=0.1, **_RLT_NETS)),
    "B2": Suite("B2", "SAC Pendulum-v1 10k", "sac", "Pendulum-v1", 10_000, 1, -200.0,
                rlcore=dict(hidden=(64, 64), batch_size=100, learning_starts=100, actor_lr=1e-3,
                            critic_lr=1e-3, alpha_lr=1e-3),
                sb3=dict(batch_size=100, learning_starts=100, learning_rate=1e-3, ent_coef="auto"),
                sb3_policy_kwargs=dict(net_arch=[64, 64]),
                rltools=dict(STEP_LIMIT=10_000, ACTOR_BATCH_SIZE=100, CRITIC_BATCH_SIZE=100, N_WARMUP_STEPS=100,
                             OPTIMIZER_ALPHA=1e-3, ADAPTIVE_ALPHA=True, **_RLT_NETS)),
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
                sb3_normalize_obs=True,
                rltools=dict(TOTAL_STEP_LIMIT=300_000, N_ENVIRONMENTS=4, ON_POLICY_RUNNER_STEPS_PER_ENV=1024,
                             BATCH_SIZE=256, N_EPOCHS=2, GAMMA=0.9, LAMBDA=0.95, OPTIMIZER_ALPHA=1e-3,
                             ACTION_ENTROPY_COEFFICIENT=0.0, NORMALIZE_OBSERVATIONS=True,
                             ACTOR_ACTIVATION_FUNCTION="TANH", CRITIC_ACTIVATION_FUNCTION="TANH", **_RLT_NETS)),
}
