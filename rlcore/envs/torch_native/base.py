"""Shared machinery of the torch-native batched environments.

``TorchVecEnv`` owns everything that is the same for every classic-control task: the
physical state tensor, the elapsed-step counters (Gymnasium's ``TimeLimit``), same-step
autoreset, episode bookkeeping and seeding. A subclass supplies the spaces, the reset
box and three tensor functions: ``_transition``, ``_observe`` and (optionally)
``_finish_reset``.

The state is kept component-major, ``[state_dim, num_envs]``, so that every physics
operation runs on contiguous vectors; only observations (and ``get_state`` /
``set_state``) use the batch-major ``[num_envs, dim]`` layout.

Randomness comes from one ``torch.Generator`` on the env's device. ``reset(seed)`` seeds
it with a hash of ``seed`` (see :func:`env_stream_seed`), so the same seed gives the same
batch of initial states and, with the same actions, the same trajectories. Unlike
Gymnasium's vector envs, sub-env ``i`` does not own a stream seeded with ``seed + i``: the
batch shares one stream, so the states drawn depend on ``num_envs`` and on the device (CPU
and CUDA generators differ).

On CPU, initial states come from a pool of uniform draws taken from the generator in
blocks (refilled whenever fewer than one full batch of resets is left), consumed in order:
a step with no finished episode uses none, and the finished rows take the next ones. This
module is tensor code only: a compiled step is a separate backend that registers itself
with :func:`register_compiled_step` (``rlcore.fast`` does, for CartPole, Pendulum and
MountainCar) and reads and writes the tensors :meth:`TorchVecEnv.native_buffers` names,
consuming the pool identically, so both give the same trajectories. On CUDA the step never waits for the host: a full
batch of candidate initial states is drawn into a preallocated buffer and selected with
``torch.where``; finished-episode statistics wait in a small ring buffer on the device
until ``pop_episodes`` (or a full buffer) copies them to the host.
"""

from __future__ import annotations

import numbers

import gymnasium as gym
import numpy as np
import torch

from rlcore.envs.base import Step
from rlcore.errors import RLCoreError
from rlcore.utils import resolve_device

POOL_RESETS = 256  # the reset pool holds at least this many initial states (CPU)


class TorchVecEnv:
    """``num_envs`` copies of one classic-control task stepped as tensor operations.

    Subclasses set ``env_id``, ``max_episode_steps``, ``state_dim``, ``state_dtype``,
    ``reset_low`` / ``reset_high`` (per state component, sampled uniformly like
    Gymnasium's ``np_random.uniform``) and implement ``_spaces``, ``_transition`` and
    ``_observe``.
    """

    env_id: str = ""
    max_episode_steps: int = 0
    state_dim: int = 0
    state_dtype: torch.dtype = torch.float64
    reset_low: tuple[float, ...] = ()
    reset_high: tuple[float, ...] = ()

    def __init__(self, num_envs: int = 1, seed: int | None = None,
                 device: str | torch.device = "cpu"):
        if isinstance(num_envs, bool) or not isinstance(num_envs, numbers.Integral) or num_envs < 1:
            raise RLCoreError(f"num_envs must be a positive integer; got {num_envs!r}.")
        num_envs = int(num_envs)
        self.num_envs = num_envs
        self.device = resolve_device(device)
        self.single_observation_space, self.single_action_space = self._spaces()
        self._discrete = isinstance(self.single_action_space, gym.spaces.Discrete)
        self._action_shape = (num_envs, *self.single_action_space.shape)
        self._initial_seed = seed
        self._seeded = False
        self._ready = False
        self._sync_free = self.device.type != "cpu"
        self._generator = torch.Generator(device=self.device)
        f64 = dict(dtype=torch.float64, device=self.device)
        self._low = torch.tensor(self.reset_low, **f64).unsqueeze(1)
        self._span = torch.tensor(self.reset_high, **f64).unsqueeze(1) - self._low
        self._draw = torch.empty((self.state_dim, num_envs), **f64)
        self._state = torch.zeros((self.state_dim, num_envs), dtype=self.state_dtype,
                                  device=self.device)
        self._elapsed = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self._ep_return = torch.zeros(num_envs, **f64)
        self._rec_done = self._rec_return = self._rec_length = None  # device ring buffer
        self._rec_rows = 0
        self._finished: list[tuple[torch.Tensor, torch.Tensor]] = []  # (returns, lengths)
        # CPU: the reset pool, consumed from ``_pool_pos`` on (see the module docstring)
        self._pool = (torch.empty(self.state_dim * max(2 * num_envs, POOL_RESETS), dtype=torch.float64)
                      if self.device.type == "cpu" else None)
        self._pool_pos = self._pool.numel() if self._pool is not None else 0

    # ----------------------------------------------------------------- subclass hooks
    def _spaces(self) -> tuple[gym.Space, gym.Space]:
        """(single observation space, single action space), equal to Gymnasium's."""
        raise NotImplementedError

    def _transition(self, state: torch.Tensor, action: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(next state ``[state_dim, n]``, float32 reward, bool terminated); never in place."""
        raise NotImplementedError

    def _observe(self, state: torch.Tensor) -> torch.Tensor:
        """float32 observations ``[n, obs_dim]`` of a component-major ``state``."""
        raise NotImplementedError

    def _finish_reset(self, draw: torch.Tensor) -> torch.Tensor:
        """Turn float64 uniform draws into initial states (the dtype rounding Gymnasium does)."""
        return draw.to(self.state_dtype)

    # ------------------------------------------------------------------ public API
    def reset(self, seed: int | None = None) -> torch.Tensor:
        """Reset every sub-environment; ``seed`` seeds the batch's one generator."""
        self._seed_generator(seed)
        self._ready = True
        if self._pool is not None:
            self.ensure_pool()
            self._state.copy_(self._take_resets(self.num_envs))
        else:
            self._state.copy_(self._sample(self.num_envs))
        self._elapsed.zero_()
        self._ep_return.zero_()
        return self._observe(self._state)

    def step(self, action: torch.Tensor) -> Step:
        """Advance every sub-environment; finished ones restart in the same call."""
        if not self._ready:
            raise RLCoreError(f"{self.env_id} was stepped before reset(); call reset() first.")
        action = self._check_action(action)
        if self._pool is not None and not self._sync_free:
            self.ensure_pool()
        next_state, reward, terminated = self._transition(self._state, action)
        self._elapsed.add_(1)
        truncated = self._elapsed >= self.max_episode_steps
        done = terminated | truncated
        self._ep_return.add_(reward)
        next_obs = self._observe(next_state)
        if self._sync_free:
            obs = self._autoreset_masked(next_state, next_obs, done)
        else:
            obs = self._autoreset_indexed(next_state, next_obs, done)
        return Step(obs, reward, terminated, truncated, next_obs)

    def pop_episodes(self) -> list[tuple[float, int]]:
        """(undiscounted return, length) of episodes finished since the last call."""
        self._flush()
        if not self._finished:
            return []
        returns, lengths = (torch.cat(parts).tolist() for parts in zip(*self._finished))
        self._finished = []
        return list(zip(returns, lengths))

    def get_state(self) -> torch.Tensor:
        """A copy of the physical state, shape ``[num_envs, state_dim]``."""
        return self._state.T.clone(memory_format=torch.contiguous_format)

    def get_elapsed_steps(self) -> torch.Tensor:
        """A copy of the steps taken in each current episode (int64 ``[num_envs]``)."""
        return self._elapsed.clone()

    def set_state(self, state: torch.Tensor, elapsed_steps: torch.Tensor | None = None) -> None:
        """Put the batch into ``state`` (and, if given, set the elapsed-step counters).

        Episode returns restart at zero; the layout of ``state`` is the subclass's.
        """
        state = torch.as_tensor(state)
        if tuple(state.shape) != (self.num_envs, self.state_dim):
            raise RLCoreError(f"{self.env_id} states have shape [{self.num_envs}, "
                              f"{self.state_dim}]; got {list(state.shape)}.")
        self._state.copy_(state.T)
        if elapsed_steps is not None:
            self._elapsed.copy_(torch.as_tensor(elapsed_steps).expand(self.num_envs))
        self._ep_return.zero_()
        self._seed_generator(None)
        self._ready = True

    def close(self) -> None:
        """Nothing to release; kept for the ``VecEnv`` protocol."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id}, num_envs={self.num_envs}, device={self.device})"

    # ------------------------------------------------------------------- internals
    def _seed_generator(self, seed: int | None) -> None:
        """Seed with ``seed``; else, the first time, with the constructor's seed or entropy."""
        if seed is None and not self._seeded:
            seed = self._initial_seed
        if seed is not None:
            self._generator.manual_seed(env_stream_seed(seed))
            self.single_action_space.seed(seed)
        elif not self._seeded:
            self._generator.seed()
        else:
            return
        self._seeded = True
        if self._pool is not None:
            self._pool_pos = self._pool.numel()  # draws taken before (re)seeding are not used

    # ----- CPU: the reset pool
    @property
    def ready(self) -> bool:
        """True once reset (or ``set_state``) has given every sub-env a state."""
        return self._ready

    @property
    def steps_on_host(self) -> bool:
        """True when a step may wait for the host (CPU); False on CUDA (sync-free steps)."""
        return not self._sync_free

    def native_buffers(self) -> dict[str, torch.Tensor]:
        """The tensors a compiled step reads and writes in place: ``state`` ``[state_dim, n]``,
        ``ep_return`` and ``elapsed`` ``[n]``, the reset box ``low`` and ``span``, and the
        reset ``pool`` (CPU)."""
        return {"state": self._state, "ep_return": self._ep_return, "elapsed": self._elapsed,
                "low": self._low, "span": self._span, "pool": self._pool}

    def add_finished(self, returns: torch.Tensor, lengths: torch.Tensor) -> None:
        """Record episodes that a compiled step finished, for :meth:`pop_episodes`."""
        self._finished.append((returns, lengths))

    def ensure_pool(self) -> None:
        """Refill the reset pool if it holds less than one full batch of resets."""
        pool, pos = self._pool, self._pool_pos
        if pool.numel() - pos >= self.num_envs * self.state_dim:
            return
        left = pool.numel() - pos
        pool[:left] = pool[pos:].clone()
        pool[left:].uniform_(0.0, 1.0, generator=self._generator)
        self._pool_pos = 0

    def _take_resets(self, k: int) -> torch.Tensor:
        """The next ``k`` initial states from the pool, ``[state_dim, k]`` in the state dtype."""
        pos, sd = self._pool_pos, self.state_dim
        draw = self._pool[pos:pos + k * sd].view(k, sd).T
        self._pool_pos = pos + k * sd
        return self._finish_reset(draw * self._span + self._low)

    def _sample(self, n: int, out: torch.Tensor | None = None) -> torch.Tensor:
        if out is None:
            out = torch.empty((self.state_dim, n), dtype=torch.float64, device=self.device)
        out.uniform_(0.0, 1.0, generator=self._generator)
        return self._finish_reset(out.mul_(self._span).add_(self._low))

    def _check_action(self, action: torch.Tensor) -> torch.Tensor:
        if not isinstance(action, torch.Tensor):
            action = torch.as_tensor(action)
        if tuple(action.shape) != self._action_shape:
            raise RLCoreError(f"{self.env_id} expects actions of shape {list(self._action_shape)}; "
                              f"got {list(action.shape)}.")
        if self._discrete:
            if action.is_floating_point() or action.is_complex():
                raise RLCoreError(f"{self.env_id} has discrete actions, so they must be an integer "
                                  f"tensor; got dtype {action.dtype}.")
            return action.detach().to(self.device)
        return action.detach().to(device=self.device, dtype=torch.float32)

    def _autoreset_indexed(self, next_state: torch.Tensor, next_obs: torch.Tensor,
                           done: torch.Tensor) -> torch.Tensor:
        """CPU path: redraw only the finished rows (checking ``done`` costs nothing here)."""
        if not bool(done.any()):
            self._state.copy_(next_state)
            return next_obs
        self._record(done)
        idx = done.nonzero().squeeze(1)
        fresh = self._take_resets(idx.numel()) if self._pool is not None else self._sample(idx.numel())
        next_state[:, idx] = fresh  # ``next_state`` is a new tensor owned by this step
        self._state.copy_(next_state)
        self._elapsed.masked_fill_(done, 0)
        self._ep_return.masked_fill_(done, 0.0)
        obs = next_obs.clone()
        obs[idx] = self._observe(fresh)
        return obs

    def _autoreset_masked(self, next_state: torch.Tensor, next_obs: torch.Tensor,
                          done: torch.Tensor) -> torch.Tensor:
        """Device path: no host synchronisation; a full batch of draws, selected by mask."""
        self._record(done)
        fresh = self._sample(self.num_envs, out=self._draw)
        self._state.copy_(torch.where(done.unsqueeze(0), fresh, next_state))
        self._elapsed.masked_fill_(done, 0)
        self._ep_return.masked_fill_(done, 0.0)
        return torch.where(done.unsqueeze(1), self._observe(fresh), next_obs)

    def _record(self, done: torch.Tensor) -> None:
        """Keep (return, length) of the episodes that end now; Python floats come at pop time."""
        if not self._sync_free:
            self._finished.append((self._ep_return[done], self._elapsed[done]))
            return
        if self._rec_done is None:
            rows = max(4, min(64, (1 << 22) // self.num_envs))  # at most ~70 MB for 1M envs
            shape, dev = (rows, self.num_envs), self.device
            self._rec_done = torch.zeros(shape, dtype=torch.bool, device=dev)
            self._rec_return = torch.zeros(shape, dtype=torch.float64, device=dev)
            self._rec_length = torch.zeros(shape, dtype=torch.int64, device=dev)
        row = self._rec_rows
        self._rec_done[row].copy_(done)
        self._rec_return[row].copy_(self._ep_return)
        self._rec_length[row].copy_(self._elapsed)
        self._rec_rows = row + 1
        if self._rec_rows == self._rec_done.shape[0]:
            self._flush()

    def _flush(self) -> None:
        rows, self._rec_rows = self._rec_rows, 0
        if rows == 0:
            return
        mask = self._rec_done[:rows]
        self._finished.append((self._rec_return[:rows][mask], self._rec_length[:rows][mask]))


def env_stream_seed(seed: int) -> int:
    """The generator seed of an env seeded with ``seed``: a hash of it, so the env's stream is
    not the one ``torch.manual_seed(seed)`` gives the agent (initial states would otherwise
    repeat the numbers that initialise the networks and draw the exploration noise)."""
    return int(np.random.SeedSequence([int(seed), 0x5EED]).generate_state(1, np.uint64)[0] >> 1)


def batch_major(rows: torch.Tensor) -> torch.Tensor:
    """A new contiguous float32 ``[n, d]`` tensor holding the ``[d, n]`` rows (never a view)."""
    out = torch.empty((rows.shape[1], rows.shape[0]), dtype=torch.float32, device=rows.device)
    return out.copy_(rows.T)
