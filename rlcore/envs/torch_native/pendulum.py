"""Pendulum-v1 as a batched torch environment (Gymnasium 1.4's ``PendulumEnv`` + TimeLimit 200)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch

from rlcore.envs.torch_native.base import TorchVecEnv, batch_major

MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05
G = 10.0
MASS = 1.0
LENGTH = 1.0


def angle_normalize(x: torch.Tensor) -> torch.Tensor:
    """Wrap angles into ``[-pi, pi)`` with a floor modulo, as Gymnasium does."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


class Pendulum(TorchVecEnv):
    """Swing a pendulum up and hold it; reward ``-(angle^2 + 0.1 thdot^2 + 0.001 u^2)``.

    State (float64): ``[theta, theta_dot]``; observation ``[cos, sin, theta_dot]`` in
    float32. Actions (float32 ``[N, 1]``) are clipped to ``[-2, 2]``; the torque terms are
    computed in float32 and the rest in float64, exactly as Gymnasium's arithmetic does.
    Never terminates; truncated at 200 steps.
    """

    env_id = "Pendulum-v1"
    max_episode_steps = 200
    state_dim = 2
    state_dtype = torch.float64
    reset_low = (-math.pi, -1.0)
    reset_high = (math.pi, 1.0)

    def _spaces(self) -> tuple[gym.Space, gym.Space]:
        high = np.array([1.0, 1.0, MAX_SPEED], dtype=np.float32)
        obs = gym.spaces.Box(low=-high, high=high, dtype=np.float32)
        act = gym.spaces.Box(low=-MAX_TORQUE, high=MAX_TORQUE, shape=(1,), dtype=np.float32)
        return obs, act

    def _transition(self, state, action):
        th, thdot = state.unbind(0)
        u = action[:, 0].clamp(-MAX_TORQUE, MAX_TORQUE)  # float32, like np.clip on float32
        u_cost = ((u * u) * 0.001).to(torch.float64)
        u_acc = (u * (3.0 / (MASS * LENGTH**2))).to(torch.float64)
        norm_th = angle_normalize(th)
        costs = (norm_th * norm_th) + 0.1 * (thdot * thdot) + u_cost
        newthdot = thdot + (3 * G / (2 * LENGTH) * torch.sin(th) + u_acc) * DT
        newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED)
        newth = th + newthdot * DT
        next_state = torch.stack((newth, newthdot), dim=0)
        terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        return next_state, (-costs).to(torch.float32), terminated

    def _observe(self, state):
        th, thdot = state.unbind(0)
        return batch_major(torch.stack((torch.cos(th), torch.sin(th), thdot), dim=0))
