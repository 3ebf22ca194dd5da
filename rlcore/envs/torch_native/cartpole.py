"""CartPole-v1 as a batched torch environment (Gymnasium 1.4's ``CartPoleEnv`` + TimeLimit 500)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch

from rlcore.envs.torch_native.base import TorchVecEnv, batch_major

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_POLE + MASS_CART
HALF_LENGTH = 0.5
POLEMASS_LENGTH = MASS_POLE * HALF_LENGTH
FORCE_MAG = 10.0
TAU = 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4


class CartPole(TorchVecEnv):
    """Balance a pole on a cart; +1 per step, including the terminating one.

    State (float64): ``[x, x_dot, theta, theta_dot]``; the observation is the state cast to
    float32. Action 1 pushes right with 10 N, any other value pushes left. The episode
    terminates when ``|x| > 2.4`` or ``|theta| > 12 degrees`` and is truncated at 500 steps.
    Explicit Euler integration with ``tau = 0.02``, operation for operation as Gymnasium.
    """

    env_id = "CartPole-v1"
    max_episode_steps = 500
    state_dim = 4
    state_dtype = torch.float64
    reset_low = (-0.05,) * 4
    reset_high = (0.05,) * 4

    def __init__(self, num_envs: int = 1, seed: int | None = None,
                 device: str | torch.device = "cpu"):
        super().__init__(num_envs, seed, device)
        self._push_right = torch.tensor(FORCE_MAG, dtype=torch.float64, device=self.device)
        self._push_left = -self._push_right

    def _spaces(self) -> tuple[gym.Space, gym.Space]:
        high = np.array([X_THRESHOLD * 2, np.inf, THETA_THRESHOLD * 2, np.inf], dtype=np.float32)
        return gym.spaces.Box(-high, high, dtype=np.float32), gym.spaces.Discrete(2)

    def _transition(self, state, action):
        x, x_dot, theta, theta_dot = state.unbind(0)
        force = torch.where(action == 1, self._push_right, self._push_left)
        costheta = torch.cos(theta)
        sintheta = torch.sin(theta)
        temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS
        thetaacc = (GRAVITY * sintheta - costheta * temp) / (
            HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * (costheta * costheta) / TOTAL_MASS))
        xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
        next_state = torch.stack((
            x + TAU * x_dot,
            x_dot + TAU * xacc,
            theta + TAU * theta_dot,
            theta_dot + TAU * thetaacc,
        ), dim=0)
        # |v| > limit is exactly Gymnasium's "v < -limit or v > limit", in fewer operations.
        terminated = (next_state[0].abs() > X_THRESHOLD) | (next_state[2].abs() > THETA_THRESHOLD)
        reward = torch.ones(self.num_envs, dtype=torch.float32, device=self.device)
        return next_state, reward, terminated

    def _observe(self, state):
        return batch_major(state)
