"""A ``gymnasium.Env`` over a torch-native batch of one, speaking numpy.

Useful wherever a plain Gymnasium environment is expected (``check_env``, rendering-free
evaluation loops, other libraries). The batch truncates at the task's time limit itself,
so no ``TimeLimit`` wrapper is needed on top.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.registration import EnvSpec

from rlcore.errors import RLCoreError


class TorchSingleEnv(gym.Env):
    """One torch-native environment behind the ``gymnasium.Env`` API (numpy in and out)."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, env_id: str, device: str | torch.device = "cpu"):
        from rlcore.envs.torch_native import make_torch_env

        self._batch = make_torch_env(env_id, num_envs=1, device=device)
        self.observation_space = self._batch.single_observation_space
        self.action_space = self._batch.single_action_space
        self.render_mode = None
        self.spec = EnvSpec(id=f"rlcore-torch/{env_id}", entry_point=TorchSingleEnv,
                            nondeterministic=False,
                            kwargs={"env_id": env_id, "device": str(self._batch.device)})

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start a new episode; ``seed`` reseeds the underlying batch. ``options`` must be empty."""
        super().reset(seed=seed)
        if options:
            raise RLCoreError(f"Torch-native environments take no reset options; got {options!r}.")
        obs = self._batch.reset(seed=seed)
        return obs[0].cpu().numpy(), {}

    def step(self, action):
        """Apply one action and return ``(obs, reward, terminated, truncated, info)``."""
        batch_action = torch.as_tensor(np.asarray(action)).reshape(1, *self.action_space.shape)
        out = self._batch.step(batch_action)
        obs = out.next_obs[0].cpu().numpy()
        return obs, float(out.reward[0]), bool(out.terminated[0]), bool(out.truncated[0]), {}

    def get_state(self) -> np.ndarray:
        """The physical state of the single environment (its batch's state layout)."""
        return self._batch.get_state()[0].cpu().numpy()

    def set_state(self, state: np.ndarray, elapsed_steps: int | None = None) -> None:
        """Put the environment into ``state``, optionally with an elapsed-step count."""
        self._batch.set_state(torch.as_tensor(np.asarray(state))[None],
                              None if elapsed_steps is None else torch.tensor([elapsed_steps]))

    def close(self) -> None:
        self._batch.close()
