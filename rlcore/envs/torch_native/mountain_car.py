"""MountainCar-v0 and MountainCarContinuous-v0 as batched torch environments.

Gymnasium 1.4's ``MountainCarEnv`` (TimeLimit 200) and ``Continuous_MountainCarEnv``
(TimeLimit 999). The discrete task keeps its state in float64; the continuous one stores
its state as float32 after every step and does most of its arithmetic in float32, and the
batched version repeats those roundings step for step.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from rlcore.envs.torch_native.base import TorchVecEnv, batch_major

MIN_POSITION = -1.2
MAX_POSITION = 0.6
MAX_SPEED = 0.07
GRAVITY = 0.0025


def _state_box() -> gym.spaces.Box:
    low = np.array([MIN_POSITION, -MAX_SPEED], dtype=np.float32)
    high = np.array([MAX_POSITION, MAX_SPEED], dtype=np.float32)
    return gym.spaces.Box(low, high, dtype=np.float32)


class MountainCar(TorchVecEnv):
    """Drive an under-powered car up the right hill; -1 per step.

    State (float64): ``[position, velocity]``; the observation is its float32 cast.
    Actions 0, 1, 2 push left, not at all, right (force 0.001). Terminates when
    ``position >= 0.5`` with ``velocity >= 0``; truncated at 200 steps.
    """

    env_id = "MountainCar-v0"
    max_episode_steps = 200
    state_dim = 2
    state_dtype = torch.float64
    reset_low = (-0.6, 0.0)
    reset_high = (-0.4, 0.0)
    force = 0.001
    goal_position = 0.5

    def _spaces(self) -> tuple[gym.Space, gym.Space]:
        return _state_box(), gym.spaces.Discrete(3)

    def _transition(self, state, action):
        position, velocity = state.unbind(0)
        push = (action - 1).to(torch.float64) * self.force
        velocity = velocity + (push + torch.cos(3 * position) * -GRAVITY)
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED)
        position = (position + velocity).clamp(MIN_POSITION, MAX_POSITION)
        velocity = velocity.masked_fill((position == MIN_POSITION) & (velocity < 0), 0.0)
        terminated = (position >= self.goal_position) & (velocity >= 0)
        reward = torch.full((self.num_envs,), -1.0, dtype=torch.float32, device=self.device)
        return torch.stack((position, velocity), dim=0), reward, terminated

    def _observe(self, state):
        return batch_major(state)


class MountainCarContinuous(TorchVecEnv):
    """Continuous-force mountain car; +100 on reaching the flag, minus ``0.1 * action^2``.

    State (float32): ``[position, velocity]``. The force is the action clipped to
    ``[-1, 1]`` times 0.0015, but the action penalty uses the unclipped action, as in
    Gymnasium. Terminates when ``position >= 0.45`` with ``velocity >= 0``; truncated at
    999 steps. Initial states are rounded to float32 (Gymnasium keeps the first state in
    float64 and rounds after the first step, a difference below 1e-7).
    """

    env_id = "MountainCarContinuous-v0"
    max_episode_steps = 999
    state_dim = 2
    state_dtype = torch.float32
    reset_low = (-0.6, 0.0)
    reset_high = (-0.4, 0.0)
    power = 0.0015
    goal_position = 0.45

    def _spaces(self) -> tuple[gym.Space, gym.Space]:
        act = gym.spaces.Box(low=-1.0, high=1.0, shape=(1,), dtype=np.float32)
        return _state_box(), act

    def _transition(self, state, action):
        position, velocity = state.unbind(0)
        a = action[:, 0]
        slope = torch.cos((position * 3).to(torch.float64)) * GRAVITY  # math.cos in float64
        # In range, numpy keeps the float32 action and subtracts in float32; a clipped
        # action becomes a Python float, so that difference is taken in float64 first.
        inside = a * self.power - slope.to(torch.float32)
        outside = (torch.where(a > 0, 1.0, -1.0).to(torch.float64) * self.power - slope)
        clipped = (a > 1.0) | (a < -1.0)
        velocity = velocity + torch.where(clipped, outside.to(torch.float32), inside)
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED)
        position = (position + velocity).clamp(MIN_POSITION, MAX_POSITION)
        velocity = velocity.masked_fill((position == MIN_POSITION) & (velocity < 0), 0.0)
        terminated = (position >= self.goal_position) & (velocity >= 0)
        a64 = a.to(torch.float64)
        penalty = a64 * a64 * 0.1
        reward = (terminated.to(torch.float64) * 100.0 - penalty).to(torch.float32)
        return torch.stack((position, velocity), dim=0), reward, terminated

    def _observe(self, state):
        return batch_major(state)
