"""Learning tests: each agent trains to a threshold with a fixed seed (slow, run in CI)."""

from __future__ import annotations

import pytest
import torch

from rlcore import make_agent

pytestmark = pytest.mark.slow

CASES = {
    # algo, env, steps, threshold, config
    "ppo": ("CartPole-v1", 100_000, 475.0, dict(n_steps=32, batch_size=256, n_epochs=20, gamma=0.98,
                                                  gae_lambda=0.8, lr=1e-3, lr_schedule="linear",
                                                  clip_schedule="linear", ent_coef=0.0)),
    "a2c": ("CartPole-v1", 100_000, 400.0, dict(optimizer="adam", lr=1e-3, gae_lambda=0.95, n_steps=16)),
    "dqn": ("CartPole-v1", 50_000, 400.0, dict(lr_schedule="linear")),
    "sac": ("Pendulum-v1", 10_000, -250.0, {}),
    "td3": ("Pendulum-v1", 10_000, -250.0, {}),
    "ddpg": ("Pendulum-v1", 15_000, -300.0, {}),
}


@pytest.mark.parametrize("algo", list(CASES))
def test_agent_learns(algo, tmp_path):
    torch.set_num_threads(1)
    env_id, steps, threshold, config = CASES[algo]
    agent = make_agent(algo, env_id, config=config, seed=0)
    manifest = agent.train(steps, out=tmp_path / algo, eval_episodes=10, progress=False, tensorboard=False)
    score = manifest["eval"]["return_mean"]
    assert manifest["total_steps"] >= steps
    assert score >= threshold, f"{algo} on {env_id}: eval return {score:.1f} < {threshold} after {steps} steps"
