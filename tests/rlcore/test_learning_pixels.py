"""DrQ-v2 learns Pendulum-v1 from pixels and clearly beats a random policy (slow, run in CI).

Budget: at most 6 minutes on a 2-core CPU. The images are small (32x32 grey, 3 frames),
the convolutional trunk narrow (16 channels, 3 layers) and each action is repeated twice,
as in DrQ-v2; 4,000 agent steps are 8,000 env steps (40 episodes).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from rlcore import make_agent, make_env

pytestmark = pytest.mark.slow

STEPS = 4000
CONFIG = dict(image_size=32, frame_stack=3, action_repeat=2, batch_size=128, hidden=(256, 256),
              learning_starts=500, std_steps=2500, buffer_size=STEPS)
THRESHOLD = -500.0  # a uniform random policy scores about -1200 to -1300


def random_policy_returns(episodes: int, seed: int) -> np.ndarray:
    env = make_env("Pendulum-v1", num_envs=episodes, seed=seed, backend="torch")
    env.reset(seed=seed)
    g = torch.Generator().manual_seed(seed)
    total = torch.zeros(episodes)
    for _ in range(200):  # Pendulum-v1 episodes last exactly 200 steps
        total += env.step(torch.rand(episodes, 1, generator=g) * 4.0 - 2.0).reward
    return total.numpy()


@pytest.mark.parametrize("seed", [0])
def test_drqv2_learns_pendulum_from_pixels(seed, tmp_path):
    torch.set_num_threads(1)
    start = time.perf_counter()
    random_mean = float(random_policy_returns(10, seed + 10_000).mean())
    agent = make_agent("drqv2", "Pendulum-v1", CONFIG, seed=seed,
                       encoder_kwargs=dict(channels=16, layers=3), augmentation_kwargs=dict(pad=2))
    assert agent.observation_space.shape == (3, 32, 32)
    manifest = agent.train(STEPS, out=tmp_path / "drqv2", eval_episodes=10, progress=False, tensorboard=False)
    score = manifest["eval"]["return_mean"]
    elapsed = time.perf_counter() - start
    print(f"drqv2 pixel Pendulum seed {seed}: eval {score:.1f} vs random {random_mean:.1f} in {elapsed:.0f} s")
    assert manifest["eval"]["episodes"] == 10
    assert random_mean < -900, f"random baseline {random_mean:.1f} is not the expected ~-1250"
    assert score >= THRESHOLD, f"drqv2 eval return {score:.1f} < {THRESHOLD} after {STEPS} steps"
    assert score >= random_mean + 500, f"drqv2 {score:.1f} does not clearly beat random {random_mean:.1f}"
