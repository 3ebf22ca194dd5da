"""Gymnasium vector environments behind rlcore's torch ``VecEnv`` interface."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, AsyncVectorEnv, SyncVectorEnv

from rlcore.envs.base import Step
from rlcore.envs.families import ensure_registered, make_single
from rlcore.errors import RLCoreError, unknown


def check_env_id(env_id: str) -> None:
    """Raise a one-sentence error unless ``env_id`` is registered (``module:Id`` imports module;
    Atari and MiniGrid ids import the package that registers them)."""
    ensure_registered(env_id)
    if ":" in env_id:
        module, _, name = env_id.partition(":")
        try:
            __import__(module)
        except ImportError:
            raise RLCoreError(f"Env id {env_id!r} names module {module!r}, which cannot be imported.") from None
        env_id = name
    if env_id not in gym.registry:
        raise unknown("env id", env_id, gym.registry.keys(), limit=8)


def _obs_converter(space: gym.Space, nested: bool = False):
    """(torch-facing observation space, numpy->numpy converter) for a single-env space."""
    if isinstance(space, gym.spaces.Box):
        if space.dtype == np.float32 or space.dtype == np.uint8:
            return space, None
        box = gym.spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32), dtype=np.float32)
        return box, lambda x: x.astype(np.float32)
    if isinstance(space, gym.spaces.Discrete):
        n = int(space.n)
        eye = np.eye(n, dtype=np.float32)
        box = gym.spaces.Box(0.0, 1.0, (n,), dtype=np.float32)
        return box, lambda x: eye[np.asarray(x, dtype=np.int64) - space.start]
    if isinstance(space, gym.spaces.Dict) and not nested:
        parts = {key: _obs_converter(sub, nested=True) for key, sub in space.spaces.items()}
        dict_space = gym.spaces.Dict({key: sub for key, (sub, _) in parts.items()})
        return dict_space, lambda x: {k: (fn(x[k]) if fn else x[k]) for k, (_, fn) in parts.items()}
    raise RLCoreError(f"Observation space {space} is not supported yet; accepted: Box, Discrete, "
                      "or a Dict of them.")


def _copy_obs(obs):
    return {k: v.copy() for k, v in obs.items()} if isinstance(obs, dict) else obs.copy()


def _set_row(obs, i: int, row) -> None:
    if isinstance(obs, dict):
        for k, v in obs.items():
            v[i] = row[k]
    else:
        obs[i] = row


class GymVecEnv:
    """``num_envs`` Gymnasium envs stepped with same-step autoreset, speaking torch tensors.

    ``seed`` is used by the first ``reset()`` that passes no seed of its own. Synchronous
    envs with Box observations are stepped by a lean loop over the sub-envs (the results of
    ``SyncVectorEnv.step`` without its per-step info merging and copies); other spaces and
    ``asynchronous=True`` step through Gymnasium's vector env. Each sub-env comes from
    :func:`rlcore.envs.families.make_single` (``training`` and ``preprocess`` are its options).
    """

    def __init__(self, env_id: str, num_envs: int = 1, device: torch.device | str = "cpu",
                 asynchronous: bool = False, seed: int | None = None, training: bool = True,
                 preprocess: bool | dict = True, **env_kwargs):
        check_env_id(env_id)
        self._initial_seed, self._seeded = seed, False
        self.env_id = env_id
        self.num_envs = num_envs
        self.device = torch.device(device)
        first = make_single(env_id, training, preprocess, **env_kwargs)  # errors as one sentence, here
        fns = [lambda: make_single(env_id, training, preprocess, **env_kwargs) for _ in range(num_envs)]
        if asynchronous:
            first.close()
        else:
            fns[0] = lambda: first
        cls = AsyncVectorEnv if asynchronous else SyncVectorEnv
        self._env = cls(fns, autoreset_mode=AutoresetMode.SAME_STEP)
        raw_space = self._env.single_observation_space
        self.single_observation_space, self._convert = _obs_converter(raw_space)
        self.single_action_space = self._env.single_action_space
        self._discrete = isinstance(self.single_action_space, gym.spaces.Discrete)
        multi = (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
        self._int_dtype = self.single_action_space.dtype if isinstance(self.single_action_space, multi) else None
        self._ep_return = np.zeros(num_envs, dtype=np.float64)
        self._ep_length = np.zeros(num_envs, dtype=np.int64)
        self._finished: list[tuple[float, int]] = []
        self._lean = not asynchronous and isinstance(raw_space, gym.spaces.Box)
        if self._lean:
            self._rows = np.zeros((num_envs, *raw_space.shape), dtype=raw_space.dtype)

    def _to_torch(self, obs):
        if self._convert is not None:
            obs = self._convert(obs)
        if isinstance(obs, dict):
            return {k: torch.as_tensor(np.asarray(v), device=self.device) for k, v in obs.items()}
        return torch.as_tensor(np.asarray(obs), device=self.device)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        if seed is None and not self._seeded:
            seed = self._initial_seed
        self._seeded = True
        seeds = None if seed is None else [seed + i for i in range(self.num_envs)]
        obs, _ = self._env.reset(seed=seeds)
        if seed is not None:
            self.single_action_space.seed(seed)
        self._ep_return[:] = 0.0
        self._ep_length[:] = 0
        return self._to_torch(obs)

    def step(self, action: torch.Tensor) -> Step:
        act = action.detach().cpu().numpy()
        if self._discrete:
            act = act.astype(np.int64).reshape(self.num_envs)
        elif self._int_dtype is not None:
            act = act.astype(self._int_dtype)
        if self._lean:
            obs, reward, terminated, truncated, info = self._step_each(act)
        else:
            obs, reward, terminated, truncated, info = self._env.step(act)
        done = terminated | truncated
        self._ep_return += reward
        self._ep_length += 1
        next_obs = obs
        if done.any():
            next_obs = _copy_obs(obs)
            mask = info.get("_final_obs", done)
            for i in np.flatnonzero(done):
                self._finished.append((float(self._ep_return[i]), int(self._ep_length[i])))
                if mask[i]:
                    _set_row(next_obs, i, info["final_obs"][i])
            self._ep_return[done] = 0.0
            self._ep_length[done] = 0
        obs_t = self._to_torch(obs)
        return Step(
            obs=obs_t,
            reward=torch.as_tensor(reward, dtype=torch.float32, device=self.device),
            terminated=torch.as_tensor(terminated, device=self.device),
            truncated=torch.as_tensor(truncated, device=self.device),
            next_obs=obs_t if next_obs is obs else self._to_torch(next_obs),
        )

    def _step_each(self, act: np.ndarray):
        """Step every sub-env, resetting finished ones in the same step (``SAME_STEP``)."""
        n, rows = self.num_envs, self._rows
        reward = np.zeros(n, dtype=np.float64)
        terminated, truncated = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        final: dict[str, list] = {}
        for i, env in enumerate(self._env.envs):
            obs, reward[i], terminated[i], truncated[i], _ = env.step(act[i])
            if terminated[i] or truncated[i]:
                final.setdefault("final_obs", [None] * n)[i] = obs
                obs, _ = env.reset()
            rows[i] = obs
        if final:
            final["_final_obs"] = terminated | truncated
        return rows.copy(), reward, terminated, truncated, final

    def pop_episodes(self) -> list[tuple[float, int]]:
        done, self._finished = self._finished, []
        return done

    def close(self) -> None:
        self._env.close()
