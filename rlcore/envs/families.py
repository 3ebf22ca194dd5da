"""Environment families beyond classic control: Box2D, MuJoCo, Atari and MiniGrid.

``make_env`` builds every sub-env through :func:`make_single`, which registers the family's
ids on first use (Atari through ``ale_py``, MiniGrid through ``minigrid``), turns a missing
package into one sentence naming what to install, and applies the family's standard
preprocessing:

- **Atari** (``ALE/<Game>-v5``): no-op reset (up to 30), frame skip 4 with a max-pool over
  the last two frames, 84x84 greyscale, 4 stacked frames (observation ``(4, 84, 84)`` uint8);
  while training also episodic life (a lost life ends the learner's episode, the game goes
  on) and rewards clipped to their sign. Evaluation envs (``training=False``) keep the game's
  own rewards and end episodes at game over.
- **MiniGrid** (``MiniGrid-*``): the agent's 7x7 partial view as ``"flat"`` float32 ``(147,)``
  (default, for MLP encoders) or ``"rgb"`` uint8 pixels ``(3, 56, 56)`` (for CNN encoders).
- **Box2D** and **MuJoCo** ids need no preprocessing; MuJoCo's float64 observations reach
  agents as float32.

Options go in ``make_env(..., preprocess=...)``: ``False`` gives the raw Gymnasium env, a
dict overrides the defaults (Atari: ``noop_max``, ``frame_skip``, ``screen_size``,
``frame_stack``, ``episodic_life``, ``clip_rewards``; MiniGrid: ``obs``).
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np

from rlcore.errors import RLCoreError

PACKAGES = {"atari": "ale-py==0.12.1 opencv-python-headless==5.1.0.95", "minigrid": "minigrid==3.2.0", "box2d": "box2d==2.3.10",
            "mujoco": "mujoco==3.17.0 imageio==2.38.2"}
ATARI_DEFAULTS = dict(noop_max=30, frame_skip=4, screen_size=84, frame_stack=4, episodic_life=None,
                      clip_rewards=None)
MINIGRID_OBS = ("flat", "rgb")
PROCGEN_NOTE = ("Procgen is not available: its Gymnasium port (procgen-gym) has no build for Python 3.11; "
                "accepted: Box2D, MuJoCo, Atari (ALE/...), MiniGrid and classic-control ids.")


def family_of(env_id: str) -> str | None:
    """``"atari"``, ``"minigrid"``, ``"box2d"``, ``"mujoco"`` or None (any other Gymnasium id)."""
    name = env_id.rpartition(":")[2]
    if name.startswith("ALE/") or name.endswith("NoFrameskip-v4"):
        return "atari"
    if name.startswith(("MiniGrid-", "BabyAI-")):
        return "minigrid"
    spec = gym.registry.get(name)
    entry = str(getattr(spec, "entry_point", "") or "")
    for family in ("box2d", "mujoco"):
        if f"gymnasium.envs.{family}" in entry:
            return family
    return None


def ensure_registered(env_id: str) -> None:
    """Import the package that registers ``env_id``'s family, if the id names one."""
    name = env_id.rpartition(":")[2]
    if name.lower().startswith("procgen"):
        raise RLCoreError(PROCGEN_NOTE)
    family = family_of(name)
    module = {"atari": "ale_py", "minigrid": "minigrid"}.get(family or "")
    if module is None or name in gym.registry:
        return
    try:
        pkg = __import__(module)
    except ImportError:
        raise RLCoreError(_missing(env_id, family)) from None
    if module == "ale_py":
        gym.register_envs(pkg)


def _missing(env_id: str, family: str) -> str:
    return (f"Env {env_id!r} needs the {family} package, which is not installed; "
            f"install it with `pip install {PACKAGES[family]}`.")


def make_single(env_id: str, training: bool = True, preprocess: bool | dict = True, **env_kwargs) -> gym.Env:
    """One Gymnasium env for ``env_id`` with its family's preprocessing (see the module doc)."""
    family = family_of(env_id)
    options = _options(env_id, family, preprocess)
    if family == "atari" and options is not None:
        env_kwargs.setdefault("frameskip", 1)  # frames are skipped (and max-pooled) by the wrapper
    if family == "mujoco":
        _route_mujoco_warnings()
    try:
        env = gym.make(env_id, **env_kwargs)
        if options is not None and family == "atari":
            env = _atari(env, training, options)
        elif options is not None and family == "minigrid":
            env = _minigrid(env, options["obs"])
    except (gym.error.DependencyNotInstalled, ImportError) as exc:
        if family not in PACKAGES:
            raise RLCoreError(f"Env {env_id!r} needs a package that is not installed ({exc}).") from None
        raise RLCoreError(_missing(env_id, family)) from None
    return env


def _route_mujoco_warnings() -> None:
    """MuJoCo writes its warnings to MUJOCO_LOG.TXT in the working directory; send them to
    Python's ``warnings`` instead."""
    try:
        import mujoco
    except ImportError:
        return
    mujoco.set_mju_user_warning(lambda message: warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2))


def _options(env_id: str, family: str | None, preprocess: bool | dict) -> dict | None:
    """The family's preprocessing options with ``preprocess`` on top, or None for none."""
    if preprocess is False or family not in ("atari", "minigrid"):
        if isinstance(preprocess, dict) and preprocess and family not in ("atari", "minigrid"):
            raise RLCoreError(f"preprocess options {sorted(preprocess)} do not apply to {env_id!r}; accepted: "
                              "options for Atari (ALE/...) and MiniGrid ids.")
        return None
    defaults = dict(ATARI_DEFAULTS) if family == "atari" else {"obs": "flat"}
    given = preprocess if isinstance(preprocess, dict) else {}
    bad = sorted(set(given) - set(defaults))
    if bad:
        raise RLCoreError(f"Unknown preprocess option {bad[0]!r} for {env_id!r}; accepted: {', '.join(defaults)}.")
    defaults.update(given)
    if family == "minigrid" and defaults["obs"] not in MINIGRID_OBS:
        raise RLCoreError(f"MiniGrid obs {defaults['obs']!r} is not supported; accepted: {', '.join(MINIGRID_OBS)}.")
    return defaults


def _atari(env: gym.Env, training: bool, o: dict) -> gym.Env:
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation, TransformReward

    episodic = training if o["episodic_life"] is None else bool(o["episodic_life"])
    clip = training if o["clip_rewards"] is None else bool(o["clip_rewards"])
    env = AtariPreprocessing(env, noop_max=int(o["noop_max"]), frame_skip=int(o["frame_skip"]),
                             screen_size=int(o["screen_size"]), grayscale_obs=True)
    if episodic:
        env = EpisodicLife(env)
    if clip:
        env = TransformReward(env, lambda r: float(np.sign(r)))
    if int(o["frame_stack"]) > 1:
        env = FrameStackObservation(env, int(o["frame_stack"]))
    return env


class EpisodicLife(gym.Wrapper):
    """A lost life ends the episode for the learner; the next reset continues the same game
    with a no-op step unless the game is over (DQN's training set-up)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._lives, self._game_over = 0, True

    def _lives_left(self) -> int:
        return int(self.env.unwrapped.ale.lives())

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._game_over = terminated or truncated
        lives = self._lives_left()
        if 0 < lives < self._lives:
            terminated = True
        self._lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, *, seed=None, options=None):
        if self._game_over or seed is not None:
            obs, info = self.env.reset(seed=seed, options=options)
            self._game_over = False
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        self._lives = self._lives_left()
        return obs, info


def _minigrid(env: gym.Env, obs: str) -> gym.Env:
    from minigrid.wrappers import ImgObsWrapper, RGBImgPartialObsWrapper

    if obs == "rgb":
        env = ImgObsWrapper(RGBImgPartialObsWrapper(env, tile_size=8))
        return gym.wrappers.TransformObservation(env, lambda x: np.ascontiguousarray(x.transpose(2, 0, 1)),
                                                 gym.spaces.Box(0, 255, (3, 56, 56), dtype=np.uint8))
    env = ImgObsWrapper(env)
    n = int(np.prod(env.observation_space.shape))
    high = float(env.observation_space.high.max())
    return gym.wrappers.TransformObservation(env, lambda x: x.reshape(-1).astype(np.float32),
                                             gym.spaces.Box(0.0, high, (n,), dtype=np.float32))
