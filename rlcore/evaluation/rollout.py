"""Deterministic policy evaluation over a fixed number of episodes."""

from __future__ import annotations

import numpy as np
import torch

from rlcore.envs import NormalizeObservation, find_wrapper, make_env


def make_eval_env(agent, num_envs: int, seed: int):
    """A fresh env like the agent's, without reward scaling or training-only preprocessing, with
    frozen observation statistics."""
    opts = dict(_make_kwargs(agent.env) or {"env_id": agent.env_id})
    env_id = opts.pop("env_id")
    opts["normalize_reward"] = False
    opts["training"] = False  # game scores: no training-only preprocessing (Atari's life loss, clipping)
    env = make_env(env_id, num_envs=num_envs, seed=seed, device=agent.device, **opts)
    train_norm = find_wrapper(agent.env, NormalizeObservation)
    eval_norm = find_wrapper(env, NormalizeObservation)
    if train_norm is not None and eval_norm is None:  # the agent wrapped an env it was given
        env = eval_norm = NormalizeObservation(env)
    if train_norm is not None and eval_norm is not None:
        eval_norm.rms.load_state_dict(train_norm.rms.state_dict())
        eval_norm.training = False
    return env


def _make_kwargs(env) -> dict | None:
    """The ``make_env`` arguments recorded on ``env`` or on an env it wraps."""
    while env is not None:
        if getattr(env, "make_kwargs", None):
            return env.make_kwargs
        env = getattr(env, "env", None)
    return None


@torch.no_grad()
def evaluate_agent(agent, episodes: int = 10, seed: int | None = None, max_steps: int = 10_000_000) -> dict:
    """Run ``episodes`` deterministic episodes; return mean/std of the undiscounted returns.

    Episodes are spread evenly over up to 8 parallel envs so short episodes are not favoured.
    """
    agent.ensure_built()
    num_envs = max(1, min(episodes, 8))
    seed = agent.seed + 10_000 if seed is None else seed
    env = make_eval_env(agent, num_envs, seed)
    targets = np.array([episodes // num_envs + (i < episodes % num_envs) for i in range(num_envs)])
    counts = np.zeros(num_envs, dtype=np.int64)
    running = np.zeros(num_envs)
    returns: list[float] = []
    obs = env.reset(seed=seed)
    steps = 0
    while (counts < targets).any() and steps < max_steps:
        s = env.step(agent.act(obs, deterministic=True))
        running += s.reward.cpu().numpy()
        done = (s.terminated | s.truncated).cpu().numpy()
        for i in np.flatnonzero(done):
            if counts[i] < targets[i]:
                returns.append(float(running[i]))
                counts[i] += 1
            running[i] = 0.0
        obs = s.obs
        steps += num_envs
    env.close()
    arr = np.asarray(returns, dtype=np.float64)
    return {"episodes": len(returns), "return_mean": float(arr.mean()) if len(arr) else float("nan"),
            "return_std": float(arr.std()) if len(arr) else float("nan"), "returns": [round(r, 4) for r in returns]}
