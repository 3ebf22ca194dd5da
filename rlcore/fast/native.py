"""The C side of CPU torch-native environments, and the loop driver of compiled collection."""

from __future__ import annotations

import ctypes

import torch

from rlcore.fast.lib import _EnvCtx, library

_UNSET = object()

class NativeEnv:
    """The C side of a CPU :class:`~rlcore.envs.torch_native.base.TorchVecEnv`.

    Holds the env's reset pool (uniform draws consumed in order by both the tensor and the C
    step) and its finished-episode records, and points at the env's own state tensors (read
    through the env's public ``native_buffers()``). ``lib`` is the kernel library when the
    task has a C step (``native_kind``) and the library is available, else None (the env
    then steps with tensor operations).
    """

    POOL_RESETS = 256

    def __init__(self, env):
        import gymnasium as gym

        n, sd = env.num_envs, env.state_dim
        self.env = env
        self.pool = torch.empty(sd * max(2 * n, self.POOL_RESETS), dtype=torch.float64)
        cap = 2 * n + 256
        self.rec_return = torch.zeros(cap, dtype=torch.float64)
        self.rec_length = torch.zeros(cap, dtype=torch.int64)
        buffers = env.native_buffers()
        self.low, self.span = buffers["low"].reshape(-1).contiguous(), buffers["span"].reshape(-1).contiguous()
        space = env.single_action_space
        act_dim = int(space.shape[0]) if isinstance(space, gym.spaces.Box) else 1
        self.has_c_step = bool(env.native_kind) and env.state_dtype == torch.float64
        self._lib: object = _UNSET
        self.ctx = _EnvCtx(kind=env.native_kind, n=n, state_dim=sd,
                           obs_dim=int(env.single_observation_space.shape[0]), act_dim=act_dim,
                           max_steps=env.max_episode_steps, pool_size=self.pool.numel(),
                           pool_pos=self.pool.numel(), rec_cap=cap, rec_n=0)
        for name, t in (("state", buffers["state"]), ("ep_return", buffers["ep_return"]), ("low", self.low),
                        ("span", self.span), ("pool", self.pool), ("rec_return", self.rec_return),
                        ("elapsed", buffers["elapsed"]), ("rec_length", self.rec_length)):
            setattr(self.ctx, name, t.data_ptr())
        self.ref = ctypes.byref(self.ctx)

    @property
    def lib(self):
        """The compiled library when the task has a C step and the library loads, else None.
        Loaded at the first step, so building an env never runs the compiler."""
        if self._lib is _UNSET:
            self._lib = library() if self.has_c_step else None
        return self._lib

    @lib.setter
    def lib(self, value) -> None:
        self._lib = value

    def drop_pool(self) -> None:
        self.ctx.pool_pos = self.ctx.pool_size

    def collect_records(self, finished: list) -> None:
        """Move the (return, length) records written by C into ``finished``."""
        k = self.ctx.rec_n
        if k:
            finished.append((self.rec_return[:k].clone(), self.rec_length[:k].clone()))
            self.ctx.rec_n = 0


def native_chain(env):
    """``(NativeEnv, NormalizeObservation or None)`` when ``env`` steps in C (directly, or under
    one observation-normalising wrapper), else None."""
    from rlcore.envs.wrappers import NormalizeObservation

    norm = None
    if type(env) is NormalizeObservation:
        norm, env = env, env.env
    native = getattr(env, "native", None)
    if native is None or native.lib is None or not env.steps_on_host or not env.ready:
        return None
    if norm is not None and norm.norm_ctx() is None:
        return None
    return native, norm


def run_native(loop, chain, start: int, end: int) -> None:
    """Call ``loop(position)`` (a C loop returning the position it reached) until ``end``,
    refilling the env's reset pool and moving its episode records whenever it stops early."""
    native, norm = chain
    z = norm.norm_ctx() if norm is not None else None
    env = native.env
    pos = start
    while True:
        pos = loop(pos, None if z is None else ctypes.byref(z))
        env.collect_native_records()
        if pos >= end:
            break
        env.ensure_pool()
    if z is not None:
        norm.rms.count = z.count

