"""Torch-native batched classic-control environments that match Gymnasium 1.4 step for step.

``make_torch_env("CartPole-v1", num_envs=4096, device="cuda")`` returns a ``VecEnv`` whose
dynamics, rewards, terminations, time-limit truncations, reset distributions and spaces
are those of ``gymnasium.make(env_id)``, computed as tensor operations over the whole
batch. ``TorchVecEnv`` (in ``base``) is tensor code only; a compiled step is a backend of
its own that registers with :func:`register_compiled_step` (``rlcore.fast`` registers the C
physics of CartPole, Pendulum and MountainCar), and ``make_torch_env`` builds the env class
it offers. ``TorchSingleEnv`` (in ``single``) views a batch of one as a ``gymnasium.Env``.
"""

from __future__ import annotations

from typing import Callable

import torch

from rlcore.envs.torch_native.acrobot import Acrobot
from rlcore.envs.torch_native.base import TorchVecEnv
from rlcore.envs.torch_native.cartpole import CartPole
from rlcore.envs.torch_native.mountain_car import MountainCar, MountainCarContinuous
from rlcore.envs.torch_native.pendulum import Pendulum
from rlcore.errors import unknown
from rlcore.utils import resolve_device

_ENVS: dict[str, type[TorchVecEnv]] = {
    cls.env_id: cls for cls in (CartPole, Pendulum, MountainCar, MountainCarContinuous, Acrobot)
}
TORCH_ENV_IDS: tuple[str, ...] = tuple(_ENVS)


def make_torch_env(env_id: str, num_envs: int = 1, seed: int | None = None,
                   device: str | torch.device = "cpu") -> TorchVecEnv:
    """Build ``num_envs`` copies of ``env_id`` on ``device``.

    ``seed`` seeds the batch's generator at the first ``reset()`` that passes no seed of
    its own; an unknown ``env_id`` raises ``RLCoreError`` listing ``TORCH_ENV_IDS``.
    """
    cls = _ENVS.get(env_id)
    if cls is None:
        raise unknown("torch-native env id", env_id, TORCH_ENV_IDS)
    from rlcore.registry import load_builtins

    load_builtins()  # the compiled backends register with the built-in parts
    dev = resolve_device(device)
    for offer in _COMPILED:
        stepped = offer(cls, dev)
        if stepped is not None:
            cls = stepped
            break
    return cls(num_envs=num_envs, seed=seed, device=device)


_COMPILED: list[Callable[[type[TorchVecEnv], torch.device], "type[TorchVecEnv] | None"]] = []


def register_compiled_step(offer: Callable[[type[TorchVecEnv], torch.device], "type[TorchVecEnv] | None"]) -> None:
    """Register a compiled env backend: ``offer(cls, device)`` returns a subclass of ``cls``
    whose ``step`` runs compiled code, or None when it does not cover that task or device."""
    if offer not in _COMPILED:
        _COMPILED.append(offer)


__all__ = ["TORCH_ENV_IDS", "make_torch_env", "register_compiled_step", "TorchVecEnv", "CartPole", "Pendulum",
           "MountainCar", "MountainCarContinuous", "Acrobot"]
