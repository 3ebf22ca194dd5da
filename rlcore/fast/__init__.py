"""Compiled paths beside the eager ones: fused learners, compiled collectors, C-stepped envs.

For the small networks of RL, eager PyTorch spends most of an update on per-op dispatch and
autograd bookkeeping, not on arithmetic. This package compiles ``kernels.c``, ``envs.c``,
``loops.c`` and ``layout.c`` once with the system C compiler (:mod:`rlcore.fast.lib`, which
also checks every shared struct's layout against the C side) and registers, through
:func:`rlcore.interfaces.register_learner` / ``register_collector``:

* fused learners for TD3, DDPG, SAC and PPO (a whole update in one call), each declaring the
  config fields it implements and declining any other non-default field;
* compiled collectors that act with the fused kernel, over a C-stepped env where possible;

and, through :func:`rlcore.envs.torch_native.register_compiled_step`, a C-stepped env backend
(:mod:`rlcore.fast.native`) for the CPU torch-native CartPole, Pendulum and MountainCar: a
subclass of the task whose step is one library call on the env's own tensors.

The learners and collectors live in :mod:`rlcore.fast.paths`, which the registry imports
with the built-in parts. Agents never refer to this package: ``Agent.choose_paths`` asks each registered class
whether it ``supports`` the agent and uses the eager reference otherwise;
``agent.update_path`` says which learner runs and why. ``RLCORE_FUSED=0`` in the environment
disables the library. ``tests/rlcore/test_fast.py`` compares every path with the eager one.
"""

from __future__ import annotations

from rlcore.fast import lib
from rlcore.fast.lib import _NormCtx, library, unavailable_reason
from rlcore.fast.native import CStep, NativeEnv, c_stepped, native_chain

__all__ = ["lib", "library", "unavailable_reason", "CStep", "NativeEnv", "c_stepped", "native_chain", "_NormCtx"]
