"""An intrinsic reward makes PPO find the flag of MountainCar-v0 where plain PPO does not.

MountainCar pays -1 per step until the car reaches the flag, and a near-random policy
never gets there in 200 steps, so plain PPO has nothing to learn from until it happens on
the flag by chance. With RND (Burda et al., 2018) the agent is paid for reaching states
it has not learned to predict, which drives it up the hills. Both variants get the same
seeds, the same budget and the same PPO settings; a seed succeeds when any training
episode ends at the flag (shorter than the 200-step time limit). The torch-native
MountainCar steps the 16 environments as one batch, so each run takes a few seconds.
"""

from __future__ import annotations

import time

import pytest
import torch

from rlcore import make_agent

torch.set_num_threads(1)

SEEDS = (0, 1, 2, 3)
BUDGET = 40_960  # env steps per run: 20 rollouts of 16 envs x 128 steps
PPO = dict(n_steps=128, batch_size=256, n_epochs=4, lr=1e-3, gamma=0.99, normalize_obs=True)
TIME_LIMIT = 200  # MountainCar-v0 truncates here; a shorter episode reached the flag


def first_success(seed: int, reward: str | None) -> int | None:
    """Env step at which the first episode reached the flag, or None within the budget."""
    parts = dict(reward=reward, reward_kwargs=dict(beta=1.0)) if reward else {}
    agent = make_agent("ppo", "MountainCar-v0", PPO, seed=seed, num_envs=16, backend="torch", **parts)
    agent.build()
    agent.reset_env()
    while agent.global_step < BUDGET:
        agent.iterate()
        if any(length < TIME_LIMIT for _, length in agent.env.pop_episodes()):
            return agent.global_step
    return None


@pytest.mark.slow
def test_rnd_reaches_the_mountaincar_flag_in_more_seeds_than_plain_ppo():
    outcomes, timings = {}, {}
    for reward in ("rnd", None):
        start = time.perf_counter()
        outcomes[reward] = [first_success(seed, reward) for seed in SEEDS]
        timings[reward] = round(time.perf_counter() - start, 1)
    report = f"first success step per seed {outcomes}, seconds {timings}"
    print(report)
    curious = sum(step is not None for step in outcomes["rnd"])
    plain = sum(step is not None for step in outcomes[None])
    assert curious >= 3 and plain <= 1, report
