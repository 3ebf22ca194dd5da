"""Environments: ``make_env`` over Gymnasium (any registered id) or torch-native batches."""

from __future__ import annotations

import torch

from rlcore.envs.base import Step, VecEnv
from rlcore.envs.gym_env import GymVecEnv, check_env_id
from rlcore.envs.wrappers import FrameStack, NormalizeObservation, NormalizeReward, VecEnvWrapper, find_wrapper
from rlcore.errors import RLCoreError
from rlcore.utils import resolve_device

BACKENDS = ("gym", "gym-async", "torch")


def make_env(env_id: str, num_envs: int = 1, seed: int | None = None,
             device: str | torch.device = "cpu", *, backend: str = "gym",
             normalize_obs: bool = False, normalize_reward: bool = False, gamma: float = 0.99,
             frame_stack: int = 1, **env_kwargs) -> VecEnv:
    """Build a batched environment that speaks torch tensors on ``device``.

    Args:
        env_id: any registered Gymnasium id (``"module:EnvId"`` imports ``module`` first,
            so a user's own registered env works).
        num_envs: parallel copies stepped per call.
        seed: sub-env ``i`` is seeded with ``seed + i`` on the first reset.
        device: ``"cpu"`` (default) or ``"cuda"``.
        backend: ``"gym"`` (synchronous Gymnasium vector env), ``"gym-async"`` (one process
            per env) or ``"torch"`` (torch-native batched env for classic control).
        normalize_obs / normalize_reward: running mean/std normalisation (``gamma`` is used
            for reward scaling).
        frame_stack: stack the last ``k`` observations when ``k > 1``.
        env_kwargs: passed to ``gymnasium.make``.
    """
    if num_envs < 1:
        raise RLCoreError(f"num_envs must be at least 1; got {num_envs}.")
    dev = resolve_device(device)
    if backend == "torch":
        from rlcore.envs.torch_native import make_torch_env

        env = make_torch_env(env_id, num_envs=num_envs, seed=seed, device=dev)
    elif backend in ("gym", "gym-async"):
        env = GymVecEnv(env_id, num_envs, dev, asynchronous=backend == "gym-async", seed=seed,
                        **env_kwargs)
    else:
        raise RLCoreError(f"Unknown env backend {backend!r}; accepted: {', '.join(BACKENDS)}.")
    if frame_stack > 1:
        env = FrameStack(env, frame_stack)
    if normalize_obs:
        env = NormalizeObservation(env)
    if normalize_reward:
        env = NormalizeReward(env, gamma=gamma)
    env.make_kwargs = dict(env_id=env_id, backend=backend, frame_stack=frame_stack,
                           normalize_obs=normalize_obs, normalize_reward=normalize_reward,
                           gamma=gamma, **env_kwargs)
    env.seed = seed
    return env


__all__ = ["make_env", "VecEnv", "Step", "GymVecEnv", "VecEnvWrapper", "NormalizeObservation",
           "NormalizeReward", "FrameStack", "check_env_id", "find_wrapper", "BACKENDS"]
