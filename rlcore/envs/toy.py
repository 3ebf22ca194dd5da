"""Tiny matching tasks for MultiBinary, MultiDiscrete and Dict spaces (seconds to learn).

Importing this module registers three Gymnasium ids; from rlcore use them as
``"rlcore.envs.toy:BitMatch-v0"`` (the ``module:Id`` form imports the module first):

* ``BitMatch-v0``: observation 6 random bits (Box), action MultiBinary(6); reward is the
  fraction of action bits equal to the observed bits. Episodes last 8 steps, so the best
  return is 8 and a random policy gets 4 on average.
* ``DigitMatch-v0``: observation two one-hot targets (Box of 7), action
  MultiDiscrete([3, 4], start=[-1, 0]); reward is the fraction of the two sub-actions equal
  to their targets (values -1..1 and 0..3). Best return 8, random about 2.3.
* ``DictMatch-v0``: Dict observation ``{"goal": Discrete(3), "noise": Box(2)}``, action
  Discrete(3); reward 1 when the action equals the goal. Best return 8, random about 2.7.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

EPISODE_STEPS = 8


class _MatchEnv(gym.Env):
    """Shared episode logic: draw a fresh target every step, score the action against it."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        self._draw()
        return self._obs(), {}

    def step(self, action):
        reward = float(self._score(np.asarray(action)))
        self._t += 1
        self._draw()
        return self._obs(), reward, False, self._t >= EPISODE_STEPS, {}


class BitMatchEnv(_MatchEnv):
    """Copy 6 observed bits into a MultiBinary action."""

    observation_space = gym.spaces.Box(0.0, 1.0, (6,), dtype=np.float32)
    action_space = gym.spaces.MultiBinary(6)

    def _draw(self):
        self._bits = self.np_random.integers(0, 2, 6)

    def _obs(self):
        return self._bits.astype(np.float32)

    def _score(self, action):
        return np.mean(action.astype(np.int64) == self._bits)


class DigitMatchEnv(_MatchEnv):
    """Name two observed digits with a MultiDiscrete action whose first part starts at -1."""

    observation_space = gym.spaces.Box(0.0, 1.0, (7,), dtype=np.float32)
    action_space = gym.spaces.MultiDiscrete([3, 4], start=[-1, 0])

    def _draw(self):
        self._target = np.array([self.np_random.integers(-1, 2), self.np_random.integers(0, 4)])

    def _obs(self):
        obs = np.zeros(7, dtype=np.float32)
        obs[self._target[0] + 1] = 1.0
        obs[3 + self._target[1]] = 1.0
        return obs

    def _score(self, action):
        return np.mean(action.astype(np.int64) == self._target)


class DictMatchEnv(_MatchEnv):
    """Pick the goal named in a Dict observation (the ``noise`` key carries nothing useful)."""

    observation_space = gym.spaces.Dict({"goal": gym.spaces.Discrete(3),
                                         "noise": gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)})
    action_space = gym.spaces.Discrete(3)

    def _draw(self):
        self._goal = int(self.np_random.integers(0, 3))

    def _obs(self):
        return {"goal": self._goal, "noise": self.np_random.uniform(-1, 1, 2).astype(np.float32)}

    def _score(self, action):
        return float(int(action) == self._goal)


for _name, _cls in (("BitMatch-v0", BitMatchEnv), ("DigitMatch-v0", DigitMatchEnv),
                    ("DictMatch-v0", DictMatchEnv)):
    if _name not in gym.registry:
        gym.register(_name, entry_point=_cls, max_episode_steps=EPISODE_STEPS)
