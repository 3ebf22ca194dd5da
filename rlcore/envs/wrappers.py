"""Torch wrappers over any ``VecEnv``: observation/reward normalisation and frame stacking."""

from __future__ import annotations

import ctypes

import gymnasium as gym
import numpy as np
import torch

from rlcore import fast
from rlcore.envs.base import Step
from rlcore.utils import RunningMeanStd


def find_wrapper(env, cls: type):
    """The first env of type ``cls`` in ``env``'s wrapper chain (``env`` itself first), or None."""
    while env is not None:
        if isinstance(env, cls):
            return env
        env = getattr(env, "env", None)
    return None


class VecEnvWrapper:
    """Forwards everything to the wrapped env; subclasses override what they change."""

    def __init__(self, env):
        self.env = env
        self.env_id = env.env_id
        self.num_envs = env.num_envs
        self.device = env.device
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space

    def reset(self, seed: int | None = None) -> torch.Tensor:
        return self.env.reset(seed)

    def step(self, action: torch.Tensor) -> Step:
        return self.env.step(action)

    def pop_episodes(self) -> list[tuple[float, int]]:
        return self.env.pop_episodes()

    def close(self) -> None:
        self.env.close()

    def find(self, cls: type):
        """The first wrapper of type ``cls`` in this chain, or None."""
        return find_wrapper(self, cls)



class NormalizeObservation(VecEnvWrapper):
    """Standardise observations with running statistics, clipped to ``[-clip, clip]``.

    Statistics update only while ``training`` is True (evaluation envs freeze them).
    """

    def __init__(self, env, clip: float = 10.0, epsilon: float = 1e-8):
        super().__init__(env)
        shape = env.single_observation_space.shape
        self.rms = RunningMeanStd(shape, device=env.device)
        self.clip, self.epsilon, self.training = clip, epsilon, True
        self.single_observation_space = gym.spaces.Box(-clip, clip, shape, dtype=np.float32)
        self._ctx = None

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        z = (obs.to(torch.float64) - self.rms.mean) / torch.sqrt(self.rms.var + self.epsilon)
        return z.clamp_(-self.clip, self.clip).to(torch.float32)

    def norm_ctx(self):
        """The C view of the statistics (``rlcore.fast``) on CPU, or None: then tensor code."""
        if self.device.type != "cpu" or self.rms.mean.dtype != torch.float64 or fast.library() is None:
            return None
        mean, var = self.rms.mean, self.rms.var
        if not (mean.is_contiguous() and var.is_contiguous()):
            return None
        ctx = self._ctx
        if ctx is None or ctx.mean != mean.data_ptr() or ctx.var != var.data_ptr():  # new statistics
            ctx = self._ctx = fast._NormCtx(dim=mean.numel(), mean=mean.data_ptr(), var=var.data_ptr(),
                                            clip=self.clip, eps=self.epsilon)
        ctx.update, ctx.count = int(self.training), self.rms.count
        return ctx

    def reset(self, seed: int | None = None) -> torch.Tensor:
        obs = self.env.reset(seed)
        if self.training:
            self.rms.update(obs)
        return self.normalize(obs)

    def step(self, action: torch.Tensor) -> Step:
        s = self.env.step(action)
        plain = isinstance(s.obs, torch.Tensor) and s.obs.dtype == torch.float32
        ctx = self.norm_ctx() if plain else None
        if ctx is not None:  # statistics and both observations in one C call
            raw, raw_next = s.obs.contiguous(), s.next_obs.contiguous()
            obs = torch.empty_like(raw)
            same = s.next_obs is s.obs
            next_obs = obs if same else torch.empty_like(raw)
            fast.library().rl_norm_step(ctypes.byref(ctx), raw.shape[0], raw.data_ptr(), raw_next.data_ptr(),
                                   obs.data_ptr(), None if same else next_obs.data_ptr())
            self.rms.count = ctx.count
            return Step(obs, s.reward, s.terminated, s.truncated, next_obs)
        if self.training:
            self.rms.update(s.next_obs)
        obs = self.normalize(s.obs)
        next_obs = obs if s.next_obs is s.obs else self.normalize(s.next_obs)
        return Step(obs, s.reward, s.terminated, s.truncated, next_obs)


class NormalizeReward(VecEnvWrapper):
    """Scale rewards by the running std of the discounted return (as in PPO's reference code)."""

    def __init__(self, env, gamma: float = 0.99, clip: float = 10.0, epsilon: float = 1e-8):
        super().__init__(env)
        self.rms = RunningMeanStd((), device=env.device)
        self.gamma, self.clip, self.epsilon, self.training = gamma, clip, epsilon, True
        self._returns = torch.zeros(env.num_envs, dtype=torch.float64, device=env.device)

    def step(self, action: torch.Tensor) -> Step:
        s = self.env.step(action)
        if self.training:
            self._returns = self._returns * self.gamma + s.reward
            self.rms.update(self._returns)
            self._returns[s.terminated | s.truncated] = 0.0
        scaled = (s.reward / torch.sqrt(self.rms.var + self.epsilon)).clamp(-self.clip, self.clip)
        return Step(s.obs, scaled.to(torch.float32), s.terminated, s.truncated, s.next_obs)


class FrameStack(VecEnvWrapper):
    """Stack the last ``k`` observations on a new leading axis: shape ``(k, *obs_shape)``."""

    def __init__(self, env, k: int):
        super().__init__(env)
        self.k = k
        space = env.single_observation_space
        low = np.repeat(space.low[None], k, axis=0)
        high = np.repeat(space.high[None], k, axis=0)
        self.single_observation_space = gym.spaces.Box(low, high, dtype=space.dtype)
        self._stack: torch.Tensor | None = None

    def reset(self, seed: int | None = None) -> torch.Tensor:
        obs = self.env.reset(seed)
        self._stack = obs.unsqueeze(1).repeat(1, self.k, *([1] * (obs.dim() - 1)))
        return self._stack.clone()

    def step(self, action: torch.Tensor) -> Step:
        s = self.env.step(action)
        next_stack = torch.cat([self._stack[:, 1:], s.next_obs.unsqueeze(1)], dim=1)
        done = s.terminated | s.truncated
        stack = next_stack.clone()
        if done.any():
            stack[done] = s.obs[done].unsqueeze(1).expand(-1, self.k, *s.obs.shape[1:])
        self._stack = stack
        return Step(stack.clone(), s.reward, s.terminated, s.truncated, next_stack)
