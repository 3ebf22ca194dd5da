"""Environments: ``make_env`` over Gymnasium (any registered id, with the Box2D, MuJoCo, Atari
and MiniGrid families of ``rlcore.envs.families``) or torch-native batches."""

from __future__ import annotations

import re
from collections.abc import Callable

import gymnasium as gym
import torch

from rlcore.envs.base import Step, VecEnv
from rlcore.envs.gym_env import GymVecEnv, check_env_id
from rlcore.envs.pixels import PIXEL_ENV_IDS, ActionRepeat, PixelObservation, pixel_options
from rlcore.envs.wrappers import FrameStack, NormalizeObservation, NormalizeReward, VecEnvWrapper, find_wrapper
from rlcore.errors import RLCoreError
from rlcore.utils import resolve_device

BACKENDS = ("gym", "gym-async", "torch")


def register_env(name: str, factory: Callable[..., gym.Env]) -> str:
    """Register ``factory`` (a function returning a ``gymnasium.Env``) as the Gymnasium id
    ``name`` so every rlcore path (``make_env``, agents, evaluation) can build it by id.

    Registering the same factory again is a no-op; an id already taken by another env is
    refused. Returns the id.
    """
    if not callable(factory):
        raise RLCoreError(f"Env factory for {name!r} is a {type(factory).__name__}; accepted: a function "
                          "returning a gymnasium.Env.")
    env_id = re.sub(r"[^\w.-]+", "_", str(name)).strip("_") or "CustomEnv"
    spec = gym.registry.get(env_id)
    if spec is not None:
        if getattr(spec, "entry_point", None) is factory or getattr(spec, "rlcore_factory", None) is factory:
            return env_id
        if not getattr(spec, "rlcore_factory", None):
            raise RLCoreError(f"Env label {name!r} is already a registered Gymnasium id; accepted: a label "
                              "that names no registered env.")
    gym.registry.pop(env_id, None)  # a new factory under one of our own labels replaces the old one
    gym.register(id=env_id, entry_point=factory, disable_env_checker=False)
    gym.registry[env_id].rlcore_factory = factory
    return env_id


def make_env(env_id: str | Callable[..., gym.Env], num_envs: int = 1, seed: int | None = None,
             device: str | torch.device = "cpu", *, backend: str = "gym",
             normalize_obs: bool = False, normalize_reward: bool = False, gamma: float = 0.99,
             frame_stack: int = 1, pixels: bool | dict = False, action_repeat: int = 1,
             training: bool = True, preprocess: bool | dict = True, **env_kwargs) -> VecEnv:
    """Build a batched environment that speaks torch tensors on ``device``.

    Args:
        env_id: any registered Gymnasium id (``"module:EnvId"`` imports ``module`` first,
            so a user's own registered env works), or a factory (a function returning a
            ``gymnasium.Env``), registered under its ``__name__`` with :func:`register_env`.
        num_envs: parallel copies stepped per call.
        seed: sub-env ``i`` is seeded with ``seed + i`` on the first reset.
        device: ``"cpu"`` (default) or ``"cuda"``.
        backend: ``"gym"`` (synchronous Gymnasium vector env), ``"gym-async"`` (one process
            per env) or ``"torch"`` (torch-native batched env for classic control).
        normalize_obs / normalize_reward: running mean/std normalisation (``gamma`` is used
            for reward scaling).
        frame_stack: stack the last ``k`` observations when ``k > 1``.
        pixels: ``True`` or ``dict(size=64, frames=3, channels=1)`` turns a classic-control
            task's observations into stacked uint8 images (see ``PixelObservation``); the
            frames are stacked along channels, so ``frame_stack`` must stay 1.
        action_repeat: repeat each action ``k`` times, summing rewards (``ActionRepeat``);
            applied before pixels and frame stacking, so stacked frames are ``k`` steps apart.
        training: False builds the evaluation variant of a family whose preprocessing has
            training-only parts (Atari: no episodic life, no reward clipping).
        preprocess: a family's standard preprocessing (``rlcore.envs.families``: Atari,
            MiniGrid); ``False`` gives the raw Gymnasium env, a dict overrides its options.
        env_kwargs: passed to ``gymnasium.make``.
    """
    if num_envs < 1:
        raise RLCoreError(f"num_envs must be at least 1; got {num_envs}.")
    if callable(env_id):
        env_id = register_env(getattr(env_id, "__name__", "CustomEnv"), env_id)
    dev = resolve_device(device)
    if backend == "torch":
        from rlcore.envs.torch_native import make_torch_env

        env = make_torch_env(env_id, num_envs=num_envs, seed=seed, device=dev)
    elif backend in ("gym", "gym-async"):
        env = GymVecEnv(env_id, num_envs, dev, asynchronous=backend == "gym-async", seed=seed,
                        training=training, preprocess=preprocess, **env_kwargs)
    else:
        raise RLCoreError(f"Unknown env backend {backend!r}; accepted: {', '.join(BACKENDS)}.")
    if action_repeat != 1:
        try:
            env = ActionRepeat(env, action_repeat)
        except RLCoreError:
            env.close()
            raise
    pixel_kwargs = pixel_options(pixels)
    if pixel_kwargs is not None:
        if frame_stack > 1:
            raise RLCoreError(f"frame_stack={frame_stack} cannot be combined with pixels; "
                              "set pixels=dict(frames=k) to stack images.")
        try:
            env = PixelObservation(env, **pixel_kwargs)
        except (RLCoreError, TypeError) as exc:
            env.close()
            if isinstance(exc, TypeError):
                raise RLCoreError(f"Bad pixels options {pixels!r}; accepted keys: size, frames, channels.") from None
            raise
    if frame_stack > 1:
        env = FrameStack(env, frame_stack)
    if normalize_obs:
        env = NormalizeObservation(env)
    if normalize_reward:
        env = NormalizeReward(env, gamma=gamma)
    env.make_kwargs = dict(env_id=env_id, backend=backend, frame_stack=frame_stack,
                           normalize_obs=normalize_obs, normalize_reward=normalize_reward,
                           gamma=gamma, pixels=pixels, action_repeat=action_repeat, training=training,
                           preprocess=preprocess, **env_kwargs)
    env.seed = seed
    return env


__all__ = ["make_env", "register_env", "VecEnv", "Step", "GymVecEnv", "VecEnvWrapper", "NormalizeObservation",
           "NormalizeReward", "FrameStack", "PixelObservation", "ActionRepeat", "PIXEL_ENV_IDS", "check_env_id",
           "find_wrapper", "BACKENDS"]
