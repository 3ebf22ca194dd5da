"""Acrobot-v1 as a batched torch environment (Gymnasium 1.4's ``AcrobotEnv`` + TimeLimit 500)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch

from rlcore.envs.torch_native.base import TorchVecEnv, batch_major

DT = 0.2
PI = math.pi
TWO_PI = PI - (-PI)
MAX_VEL_1 = 4 * PI
MAX_VEL_2 = 9 * PI
# The "book" dynamics with both link masses, lengths and inertias 1 and centres of mass at
# 0.5; each constant is the product Gymnasium evaluates, in the order it evaluates it.
LC2_SQ = 0.5**2  # m1 * lc1**2 and m2 * lc2**2
L1_SQ_PLUS_LC2_SQ = 1.0**2 + 0.5**2
PHI2_GAIN = 1.0 * 0.5 * 9.8  # m2 * lc2 * g
PHI1_GAIN = (1.0 * 0.5 + 1.0 * 1.0) * 9.8  # (m1 * lc1 + m2 * l1) * g
CORIOLIS = 1.0 * 1.0 * 0.5  # m2 * l1 * lc2


def _derivs(theta1, theta2, dtheta1, dtheta2, torque):
    """Time derivatives of ``(theta1, theta2, dtheta1, dtheta2)`` for one RK4 stage."""
    cos2 = torch.cos(theta2)
    sin2 = torch.sin(theta2)
    d1 = LC2_SQ + (L1_SQ_PLUS_LC2_SQ + 2 * CORIOLIS * cos2) + 1.0 + 1.0
    d2 = (LC2_SQ + CORIOLIS * cos2) + 1.0
    phi2 = PHI2_GAIN * torch.cos(theta1 + theta2 - PI / 2.0)
    phi1 = (-CORIOLIS * (dtheta2 * dtheta2) * sin2 - 2 * CORIOLIS * dtheta2 * dtheta1 * sin2
            + PHI1_GAIN * torch.cos(theta1 - PI / 2) + phi2)
    ddtheta2 = (torque + d2 / d1 * phi1 - CORIOLIS * (dtheta1 * dtheta1) * sin2 - phi2) / (
        LC2_SQ + 1.0 - (d2 * d2) / d1)
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return dtheta1, dtheta2, ddtheta1, ddtheta2


def _rk4(y0: tuple[torch.Tensor, ...], torque: torch.Tensor) -> list[torch.Tensor]:
    """One classical Runge-Kutta step of length ``DT`` (Gymnasium's ``rk4`` over [0, DT])."""
    half = DT / 2.0
    k1 = _derivs(*y0, torque)
    k2 = _derivs(*(y + half * k for y, k in zip(y0, k1)), torque)
    k3 = _derivs(*(y + half * k for y, k in zip(y0, k2)), torque)
    k4 = _derivs(*(y + DT * k for y, k in zip(y0, k3)), torque)
    sixth = DT / 6.0
    return [y + sixth * (a + 2 * b + 2 * c + d) for y, a, b, c, d in zip(y0, k1, k2, k3, k4)]


def _wrap(x: torch.Tensor) -> torch.Tensor:
    """Gymnasium's ``wrap(x, -pi, pi)`` (repeated +-2pi until inside) without a loop."""
    x = torch.where(x > PI, x - TWO_PI, x)
    x = torch.where(x < -PI, x + TWO_PI, x)
    # Several turns in one step are rare; remove the remaining whole turns at once.
    x = x - torch.ceil((x - PI) / TWO_PI).clamp_(min=0) * TWO_PI
    return x + torch.ceil((-PI - x) / TWO_PI).clamp_(min=0) * TWO_PI


class Acrobot(TorchVecEnv):
    """Swing the tip of a two-link chain above the bar; -1 per step, 0 on success.

    State (float64): ``[theta1, theta2, dtheta1, dtheta2]``; observation
    ``[cos t1, sin t1, cos t2, sin t2, dt1, dt2]`` in float32. Actions 0, 1, 2 apply torque
    -1, 0, +1 to the middle joint, integrated with one RK4 step of 0.2 s. Terminates when
    ``-cos(t1) - cos(t1 + t2) > 1``; truncated at 500 steps. Initial states are drawn in
    ``[-0.1, 0.1]`` and rounded to float32, as Gymnasium does.
    """

    env_id = "Acrobot-v1"
    max_episode_steps = 500
    state_dim = 4
    state_dtype = torch.float64
    reset_low = (-0.1,) * 4
    reset_high = (0.1,) * 4

    def _spaces(self) -> tuple[gym.Space, gym.Space]:
        high = np.array([1.0, 1.0, 1.0, 1.0, MAX_VEL_1, MAX_VEL_2], dtype=np.float32)
        return gym.spaces.Box(low=-high, high=high, dtype=np.float32), gym.spaces.Discrete(3)

    def _finish_reset(self, draw: torch.Tensor) -> torch.Tensor:
        return draw.to(torch.float32).to(torch.float64)

    def _transition(self, state, action):
        torque = (action - 1).to(torch.float64)
        t1, t2, dt1, dt2 = _rk4(tuple(state.unbind(0)), torque)
        t1 = _wrap(t1)
        t2 = _wrap(t2)
        dt1 = dt1.clamp(-MAX_VEL_1, MAX_VEL_1)
        dt2 = dt2.clamp(-MAX_VEL_2, MAX_VEL_2)
        terminated = -torch.cos(t1) - torch.cos(t2 + t1) > 1.0
        reward = terminated.to(torch.float32) - 1.0
        return torch.stack((t1, t2, dt1, dt2), dim=0), reward, terminated

    def _observe(self, state):
        t1, t2, dt1, dt2 = state.unbind(0)
        obs = (torch.cos(t1), torch.sin(t1), torch.cos(t2), torch.sin(t2), dt1, dt2)
        return batch_major(torch.stack(obs, dim=0))
