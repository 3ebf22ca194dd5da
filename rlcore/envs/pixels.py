"""Pixel observations for the classic-control tasks, drawn from the observation tensor.

``PixelObservation`` replaces each observation of ``Pendulum-v1``, ``CartPole-v1``,
``MountainCar-v0``, ``MountainCarContinuous-v0`` or ``Acrobot-v1`` by a small picture of the
system, and stacks the last ``frames`` pictures along the channel axis. Pictures are drawn
with batched torch operations from the observation alone (signed distances to capsules,
discs and boxes, anti-aliased over one pixel), so every backend (``gym``, ``gym-async``,
``torch``) gives the same image for the same observation, on any device, without pygame.
"""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from rlcore.envs.base import Step
from rlcore.envs.wrappers import VecEnvWrapper
from rlcore.errors import RLCoreError, unknown

Color = tuple[float, float, float]
Layer = tuple[torch.Tensor, Color]  # coverage in [0, 1] ([H, W] or [N, H, W]) and its colour
BACKGROUND: Color = (1.0, 1.0, 1.0)
DARK: Color = (0.15, 0.15, 0.15)
RED: Color = (0.8, 0.3, 0.3)
BLUE: Color = (0.25, 0.4, 0.8)
GREY: Color = (0.6, 0.6, 0.6)


class Canvas:
    """Pixel-centre coordinates of a square world window ``center +- half`` (y pointing up)."""

    def __init__(self, size: int, center: tuple[float, float], half: float, device: torch.device):
        self.size, self.px = size, 2.0 * half / size
        ticks = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) * self.px - half
        self.x = (center[0] + ticks).view(1, 1, size)
        self.y = (center[1] - ticks).view(1, size, 1)  # row 0 is the top of the window

    def coverage(self, sd: torch.Tensor) -> torch.Tensor:
        """Anti-aliased coverage from a signed distance (negative inside), one pixel wide."""
        return (0.5 - sd / self.px).clamp(0.0, 1.0)

    def capsule(self, a: torch.Tensor, b: torch.Tensor, radius: float) -> torch.Tensor:
        """A thick segment from ``a`` to ``b`` (each ``[N, 2]``) with round ends."""
        ax, ay, bx, by = (t[:, None, None] for t in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
        dx, dy = bx - ax, by - ay
        t = (((self.x - ax) * dx + (self.y - ay) * dy) / (dx * dx + dy * dy).clamp_min(1e-12)).clamp(0, 1)
        dist = torch.sqrt((self.x - ax - t * dx) ** 2 + (self.y - ay - t * dy) ** 2)
        return self.coverage(dist - radius)

    def disk(self, c: torch.Tensor, radius: float) -> torch.Tensor:
        cx, cy = c[:, 0, None, None], c[:, 1, None, None]
        return self.coverage(torch.sqrt((self.x - cx) ** 2 + (self.y - cy) ** 2) - radius)

    def box(self, c: torch.Tensor, half_w: float, half_h: float) -> torch.Tensor:
        """An axis-aligned rectangle centred at ``c`` ``[N, 2]``."""
        qx = (self.x - c[:, 0, None, None]).abs() - half_w
        qy = (self.y - c[:, 1, None, None]).abs() - half_h
        outside = torch.sqrt(qx.clamp_min(0) ** 2 + qy.clamp_min(0) ** 2)
        return self.coverage(outside + torch.maximum(qx, qy).clamp_max(0))


def _points(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack((x, y), dim=-1)


def _pendulum(cv: Canvas, obs: torch.Tensor) -> list[Layer]:
    cos, sin = obs[:, 0], obs[:, 1]  # angle 0 is upright
    pivot = torch.zeros_like(obs[:, :2])
    tip = _points(-sin, cos)
    return [(cv.capsule(pivot, tip, 0.1), RED), (cv.disk(pivot, 0.05), DARK)]


def _cartpole(cv: Canvas, obs: torch.Tensor) -> list[Layer]:
    x, theta = obs[:, 0], obs[:, 2]
    cart = _points(x, torch.zeros_like(x))
    top = _points(x, torch.full_like(x, 0.1))
    tip = _points(x + torch.sin(theta), 0.1 + torch.cos(theta))  # pole length 1.0
    return [(cv.box(cart, 0.3, 0.15), DARK), (cv.capsule(top, tip, 0.08), RED)]


def _hill(x: torch.Tensor) -> torch.Tensor:
    return 0.45 * torch.sin(3 * x) + 0.55


def _mountain_car(goal: float) -> Callable[[Canvas, torch.Tensor], list[Layer]]:
    def draw(cv: Canvas, obs: torch.Tensor) -> list[Layer]:
        pos = obs[:, 0]
        car = _points(pos, _hill(pos) + 0.07)
        return [(cv.disk(car, 0.07), BLUE)]

    def static(cv: Canvas) -> list[Layer]:
        slope = 1.35 * torch.cos(3 * cv.x)
        ground = cv.coverage((cv.y - _hill(cv.x)) / torch.sqrt(1 + slope * slope))
        base = torch.tensor([[goal, 0.45 * np.sin(3 * goal) + 0.55]], device=cv.x.device)
        flag = cv.capsule(base, base + torch.tensor([[0.0, 0.2]], device=cv.x.device), 0.02)
        return [(ground[0], GREY), (flag[0], RED)]

    draw.static = static  # type: ignore[attr-defined]
    return draw


def _acrobot(cv: Canvas, obs: torch.Tensor) -> list[Layer]:
    c1, s1, c2, s2 = obs[:, 0], obs[:, 1], obs[:, 2], obs[:, 3]
    s12, c12 = s1 * c2 + c1 * s2, c1 * c2 - s1 * s2  # sin and cos of theta1 + theta2
    origin = torch.zeros_like(obs[:, :2])
    p1 = _points(s1, -c1)
    p2 = p1 + _points(s12, -c12)
    return [(cv.capsule(origin, p1, 0.1), BLUE), (cv.capsule(p1, p2, 0.1), BLUE),
            (cv.disk(origin, 0.05), DARK), (cv.disk(p1, 0.05), DARK)]


def _acrobot_static(cv: Canvas) -> list[Layer]:
    ends = torch.tensor([[-2.2, 1.0], [2.2, 1.0]], device=cv.x.device)
    line = cv.capsule(ends[:1], ends[1:], 0.01)
    return [(line[0], GREY)]


_acrobot.static = _acrobot_static  # type: ignore[attr-defined]

# env id -> (draw function, observation size, window centre, window half-width)
SCENES: dict[str, tuple[Callable, int, tuple[float, float], float]] = {
    "Pendulum-v1": (_pendulum, 3, (0.0, 0.0), 1.25),
    "CartPole-v1": (_cartpole, 4, (0.0, 0.3), 2.6),
    "MountainCar-v0": (_mountain_car(0.5), 2, (-0.3, 0.6), 0.95),
    "MountainCarContinuous-v0": (_mountain_car(0.45), 2, (-0.3, 0.6), 0.95),
    "Acrobot-v1": (_acrobot, 6, (0.0, 0.0), 2.2),
}
PIXEL_ENV_IDS: tuple[str, ...] = tuple(SCENES)


class Renderer:
    """Draws a batch of ``env_id`` observations ``[N, obs_dim]`` as uint8 images ``[N, C, H, W]``.

    ``channels`` is 1 (grey levels) or 3 (RGB). Static scenery is drawn once and cached.
    """

    def __init__(self, env_id: str, size: int = 64, channels: int = 1, device: str | torch.device = "cpu"):
        if env_id not in SCENES:
            raise unknown("env id for pixel observations", env_id, PIXEL_ENV_IDS)
        if int(size) < 8:
            raise RLCoreError(f"Pixel observation size must be at least 8; got {size}.")
        if channels not in (1, 3):
            raise RLCoreError(f"Pixel observation channels must be 1 (grey) or 3 (RGB); got {channels}.")
        self.draw, self.obs_dim, center, half = SCENES[env_id]
        self.size, self.channels = int(size), int(channels)
        self.canvas = Canvas(self.size, center, half, torch.device(device))
        static = getattr(self.draw, "static", None)
        self.background = self._blend(self._fill(1), static(self.canvas) if static else [])[0]

    def _color(self, color: Color) -> torch.Tensor:
        c = torch.tensor(color, dtype=torch.float32, device=self.canvas.x.device)
        if self.channels == 1:
            c = (c * torch.tensor([0.299, 0.587, 0.114], device=c.device)).sum(0, keepdim=True)
        return c.view(1, -1, 1, 1)

    def _fill(self, n: int) -> torch.Tensor:
        return self._color(BACKGROUND).expand(n, self.channels, self.size, self.size).clone()

    def _blend(self, img: torch.Tensor, layers: list[Layer]) -> torch.Tensor:
        for cov, color in layers:
            cov = cov.reshape(-1, 1, self.size, self.size)
            img = img + cov * (self._color(color) - img)
        return img

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() != 2 or obs.shape[1] != self.obs_dim:
            raise RLCoreError(f"Pixel rendering needs raw observations [N, {self.obs_dim}]; "
                              f"got shape {list(obs.shape)}.")
        obs = obs.to(device=self.canvas.x.device, dtype=torch.float32)
        img = self.background.unsqueeze(0).expand(obs.shape[0], -1, -1, -1)
        img = self._blend(img, self.draw(self.canvas, obs))
        return (img * 255.0).round_().clamp_(0, 255).to(torch.uint8)


class PixelObservation(VecEnvWrapper):
    """Observations become the last ``frames`` rendered pictures, oldest first.

    The observation space is a uint8 Box ``(frames * channels, size, size)``. On reset (and
    where an episode ends) the stack is filled with the new first picture; ``next_obs`` stacks
    the pictures up to the true final observation. Wrap the raw env (before normalisation).

    Args:
        size: image height and width in pixels (default 64).
        frames: pictures stacked along channels (default 3).
        channels: 1 for grey levels (default) or 3 for RGB.
    """

    def __init__(self, env, size: int = 64, frames: int = 3, channels: int = 1):
        super().__init__(env)
        if int(frames) < 1:
            raise RLCoreError(f"Pixel observation frames must be at least 1; got {frames}.")
        env_id = env.env_id.split(":")[-1]
        self.renderer = Renderer(env_id, size, channels, env.device)
        if tuple(env.single_observation_space.shape) != (self.renderer.obs_dim,):
            raise RLCoreError(f"Pixel observations need {env_id}'s raw observations; got space "
                              f"{env.single_observation_space}.")
        self.frames, self.channels = int(frames), int(channels)
        shape = (self.frames * self.channels, self.renderer.size, self.renderer.size)
        self.single_observation_space = gym.spaces.Box(0, 255, shape, dtype=np.uint8)
        self._stack: torch.Tensor | None = None

    def reset(self, seed: int | None = None) -> torch.Tensor:
        img = self.renderer(self.env.reset(seed))
        self._stack = img.repeat(1, self.frames, 1, 1)
        return self._stack

    def step(self, action: torch.Tensor) -> Step:
        s = self.env.step(action)
        img = self.renderer(s.next_obs)
        next_stack = torch.cat([self._stack[:, self.channels:], img], dim=1)
        stack = next_stack
        done = s.terminated | s.truncated
        if bool(done.any()):
            stack = next_stack.clone()
            stack[done] = self.renderer(s.obs[done]).repeat(1, self.frames, 1, 1)
        self._stack = stack
        return Step(stack, s.reward, s.terminated, s.truncated, next_stack)


class ActionRepeat(VecEnvWrapper):
    """Repeat each action ``k`` times and sum the rewards (as DrQ-v2 does).

    A step stops repeating as soon as any sub-environment's episode ends, so no
    environment ever acts in a new episode with the previous episode's action; that step
    then covers fewer than ``k`` env steps for every copy. ``obs``/``next_obs`` are those
    of the last env step taken. Episode statistics (``pop_episodes``) count env steps.
    """

    def __init__(self, env, k: int):
        super().__init__(env)
        if int(k) < 1:
            raise RLCoreError(f"action_repeat must be at least 1; got {k}.")
        self.k = int(k)

    def step(self, action: torch.Tensor) -> Step:
        s = self.env.step(action)
        reward = s.reward
        for _ in range(self.k - 1):
            if bool((s.terminated | s.truncated).any()):
                break
            s = self.env.step(action)
            reward = reward + s.reward
        return Step(s.obs, reward, s.terminated, s.truncated, s.next_obs)


def pixel_options(pixels: bool | dict | None) -> dict | None:
    """``make_env``'s ``pixels`` argument as PixelObservation kwargs (None when off)."""
    if pixels is None or pixels is False:
        return None
    if pixels is True:
        return {}
    if not isinstance(pixels, dict) or set(pixels) - {"size", "frames", "channels"}:
        raise RLCoreError(f"pixels must be True or a dict with keys size, frames, channels; got {pixels!r}.")
    return dict(pixels)


__all__ = ["PixelObservation", "ActionRepeat", "Renderer", "Canvas", "PIXEL_ENV_IDS", "pixel_options"]
