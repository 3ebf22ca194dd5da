"""The C side of CPU torch-native environments, and the loop driver of compiled collection."""

from __future__ import annotations

import ctypes

import torch

from rlcore.envs.base import Step
from rlcore.fast.lib import _EnvCtx, library, may_load

_UNSET = object()

# the task numbers of rlcore/fast/envs.c: tasks whose physics the library steps (float64 state)
KINDS = {"CartPole-v1": 1, "Pendulum-v1": 2, "MountainCar-v0": 3}


class NativeEnv:
    """The C context of one C-stepped env (:class:`CStep`): pointers to the env's own state,
    reset pool and box (its public ``native_buffers()``), and the finished-episode records
    the C code writes. ``lib`` is the kernel library, loaded at the first step (so building
    an env never runs the compiler), or None where it cannot load (then the env steps with
    its tensor code)."""

    def __init__(self, env):
        import gymnasium as gym

        n, sd = env.num_envs, env.state_dim
        self.env = env
        cap = 2 * n + 256
        self.rec_return = torch.zeros(cap, dtype=torch.float64)
        self.rec_length = torch.zeros(cap, dtype=torch.int64)
        buffers = env.native_buffers()
        self.pool = buffers["pool"]
        self.low, self.span = buffers["low"].reshape(-1).contiguous(), buffers["span"].reshape(-1).contiguous()
        space = env.single_action_space
        act_dim = int(space.shape[0]) if isinstance(space, gym.spaces.Box) else 1
        self._lib: object = _UNSET
        self.ctx = _EnvCtx(kind=KINDS[env.env_id], n=n, state_dim=sd,
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
        """The compiled library when it loads, else None (loaded at the first step)."""
        if self._lib is _UNSET:
            self._lib = library()
        return self._lib

    @lib.setter
    def lib(self, value) -> None:
        self._lib = value

    def collect_records(self) -> None:
        """Hand the (return, length) records written by C to the env's ``pop_episodes``."""
        k = self.ctx.rec_n
        if k:
            self.env.add_finished(self.rec_return[:k].clone(), self.rec_length[:k].clone())
            self.ctx.rec_n = 0


class CStep:
    """The C-stepped backend of a CPU torch-native task: mixed in before the task's class
    (see :func:`c_stepped`), it runs each step as one call into the kernel library, with the
    tensor code's arithmetic operation for operation, on the env's own tensors. The reset
    pool's position lives in the C context, where both paths read and advance it."""

    native: NativeEnv

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        start = self.__dict__.pop("_pool_pos")  # set by the tensor env; the C context holds it now
        self.native = NativeEnv(self)
        self.native.ctx.pool_pos = start

    @property
    def _pool_pos(self) -> int:
        native = self.__dict__.get("native")
        return native.ctx.pool_pos if native is not None else self.__dict__["_pool_pos"]

    @_pool_pos.setter
    def _pool_pos(self, value: int) -> None:
        native = self.__dict__.get("native")
        if native is not None:
            native.ctx.pool_pos = value
        else:
            self.__dict__["_pool_pos"] = value

    def step(self, action: torch.Tensor):
        lib = self.native.lib
        if lib is None or not self.ready:
            return super().step(action)  # no library: the tensor step (and its errors)
        action = self._check_action(action)
        self.ensure_pool()
        n, od = self.num_envs, self.single_observation_space.shape[0]
        obs, next_obs = torch.empty((n, od)), torch.empty((n, od))
        reward = torch.empty(n)
        terminated, truncated = torch.empty(n, dtype=torch.bool), torch.empty(n, dtype=torch.bool)
        action = action.to(torch.int64 if self._discrete else torch.float32).contiguous()
        if lib.rl_env_step(self.native.ref, action.data_ptr(), obs.data_ptr(), next_obs.data_ptr(),
                           reward.data_ptr(), terminated.data_ptr(), truncated.data_ptr()):
            self.native.collect_records()
        return Step(obs, reward, terminated, truncated, next_obs)

    def pop_episodes(self):
        self.native.collect_records()
        return super().pop_episodes()


_CLASSES: dict[type, type] = {}


def c_stepped(cls: type, device: torch.device) -> type | None:
    """The C-stepped subclass of torch-native task ``cls`` on ``device``, or None where the
    library has no step for it (another task, a float32 state, a GPU) or a C compiler
    is known not to load (checked without compiling: the library loads at the first step)."""
    if device.type != "cpu" or cls.env_id not in KINDS or cls.state_dtype != torch.float64:
        return None
    if not may_load():
        return None
    if cls not in _CLASSES:
        name = f"CStepped{cls.__name__}"
        _CLASSES[cls] = globals()[name] = type(name, (CStep, cls), {"__module__": __name__})  # picklable
    return _CLASSES[cls]


def native_chain(env):
    """``(NativeEnv, NormalizeObservation or None)`` when ``env`` steps in C (directly, or under
    one observation-normalising wrapper), else None."""
    from rlcore.envs.wrappers import NormalizeObservation

    norm = None
    if type(env) is NormalizeObservation:
        norm, env = env, env.env
    native = env.native if isinstance(env, CStep) else None
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
        native.collect_records()
        if pos >= end:
            break
        env.ensure_pool()
    if z is not None:
        norm.rms.count = z.count



def _register() -> None:
    from rlcore.envs.torch_native import register_compiled_step

    register_compiled_step(c_stepped)


_register()
