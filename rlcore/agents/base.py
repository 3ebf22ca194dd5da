"""The agent base: a config plus swappable parts, and the plumbing every algorithm shares.

Algorithms inherit from :class:`Agent` directly (one level) and implement ``_build`` (networks,
optimisers, storage), ``make_learner`` and ``make_collector`` (the eager reference learner and
collector, see :mod:`rlcore.interfaces`) and ``iterate`` (collect some experience, update,
return metrics).
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import torch

from rlcore import interfaces, registry
from rlcore.config import build_config
from rlcore.envs import NormalizeObservation, NormalizeReward, find_wrapper, make_env
from rlcore.errors import RLCoreError
from rlcore.utils import resolve_device, seed_everything, set_threads

SPACE_NAMES = {gym.spaces.Discrete: "Discrete", gym.spaces.Box: "Box",
               gym.spaces.MultiDiscrete: "MultiDiscrete", gym.spaces.MultiBinary: "MultiBinary"}


def doc(default: Any, text: str) -> Any:
    """A dataclass field with a default and a one-line description (shown by tools and docs)."""
    return dataclasses.field(default=default, metadata={"doc": text})



class Agent:
    """Shared agent plumbing. Subclasses set the class attributes below.

    Attributes:
        Config: the agent's config dataclass.
        action_spaces: action-space types the algorithm can act in.
        policy_family / storage_kind: which registered policies and storages fit.
        default_parts: role -> registry key (a callable may choose by action space).
        slots: roles the agent uses; any other role is refused. The ``reward`` role (default
            none) adds an intrinsic reward from ``rlcore.rewards`` to the agent's rewards.
    """

    Config: ClassVar[type]
    action_spaces: ClassVar[tuple[type, ...]] = (gym.spaces.Discrete, gym.spaces.Box,
                                                  gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
    policy_family: ClassVar[str] = "actor_critic"
    storage_kind: ClassVar[str] = "on_policy"
    slots: ClassVar[tuple[str, ...]] = ("encoder", "policy", "storage", "distribution", "reward")
    default_num_envs: ClassVar[int] = 1

    def __init__(self, env, config: Any = None, *, seed: int = 0, device: str | None = None,
                 num_envs: int | None = None, backend: str = "gym", **parts: Any):
        self.config = build_config(self.Config, config)
        self.seed = int(seed)
        self.backend = backend
        self.device = resolve_device(device)
        if num_envs is not None and int(num_envs) < 1:
            raise RLCoreError(f"num_envs must be at least 1; got {num_envs}.")
        self.num_envs = int(num_envs or getattr(env, "num_envs", None) or self.default_num_envs)
        self.env_id = env if isinstance(env, str) else env.env_id
        self.env = env
        self.observation_space, self.action_space = self._read_spaces()
        self._check_action_space(self.action_space)
        self.parts: dict[str, Any] = {role: None for role in registry.ROLES}
        self.parts.update(self.default_parts())
        self.part_kwargs: dict[str, dict] = {}
        self.set(**parts)
        self.global_step = 0
        self.total_steps = 0
        self.built = False
        self.reward, self.reward_metrics = None, {}

    # ----- spaces and parts -------------------------------------------------------------
    @property
    def name(self) -> str:
        return registry.key_of(self) or type(self).__name__.lower()

    def _read_spaces(self) -> tuple[gym.Space, gym.Space]:
        if isinstance(self.env, str):  # a throwaway 1-env probe: no stepping
            probe = make_env(self.env, num_envs=1, **self.env_options())
            spaces = (probe.single_observation_space, probe.single_action_space)
            probe.close()
            return spaces
        return self.env.single_observation_space, self.env.single_action_space

    def _check_action_space(self, space: gym.Space) -> None:
        if not isinstance(space, self.action_spaces):
            accepted = " or ".join(SPACE_NAMES.get(s, s.__name__) for s in self.action_spaces)
            raise RLCoreError(f"{self.name} cannot act in {type(space).__name__} action space of "
                              f"{self.env_id}; it needs a {accepted} action space.")

    def default_parts(self) -> dict[str, str | None]:
        """Role -> registry key used when the user sets nothing."""
        return {"encoder": "mlp", "policy": None, "storage": None, "distribution": None}

    def accepted(self, role: str) -> list[str]:
        """Registry keys that fit ``role`` on this agent and action space."""
        kind = registry.ROLES[role]
        return [k for k in registry.keys(kind) if self._fits(role, registry.get(kind, k)) is None]

    def _fits(self, role: str, cls: Any) -> str | None:
        """None if ``cls`` fits ``role``, else the reason it does not."""
        proto = interfaces.slot_protocol(role, cls)
        missing = interfaces.missing_members(cls, proto) if proto is not None else []
        if missing:
            return f"lacks {', '.join(missing)} of the {role} contract"
        if role == "policy" and cls.family != self.policy_family:
            return f"is a {cls.family} policy"
        if role == "storage" and cls.kind != self.storage_kind:
            return f"is an {cls.kind} storage"
        if role == "reward" and hasattr(cls, "fits"):
            return cls.fits(self.observation_space, self.action_space)
        if role == "distribution":
            if not isinstance(self.action_space, cls.spaces):
                return f"does not support a {type(self.action_space).__name__} action space"
            return self._distribution_fits(cls)
        return None

    def _distribution_fits(self, cls: Any) -> str | None:
        return None

    def set(self, **parts: Any) -> "Agent":
        """Swap parts by role, e.g. ``agent.set(encoder="mlp", storage="rollout")``.

        Values are registry keys or registered classes; ``<role>_kwargs=dict(...)`` passes
        constructor arguments. A part that does not fit is refused with a one-sentence error.
        Networks are (re)built on the next use, so call this before training.
        """
        for role, value in parts.items():
            if role.endswith("_kwargs") and role[:-7] in registry.ROLES:
                if value and role[:-7] not in self.slots:
                    raise RLCoreError(f"{self.name} has no {role[:-7]!r} slot for {role}; "
                                      f"it accepts: {', '.join(self.slots)}.")
                self.part_kwargs[role[:-7]] = dict(value or {})
                continue
            if role not in registry.ROLES:
                raise RLCoreError(f"Unknown part role {role!r}; accepted: {', '.join(registry.ROLES)}.")
            if role not in self.slots:
                if value is None:
                    continue
                raise RLCoreError(f"{self.name} has no {role!r} slot; it accepts: {', '.join(self.slots)}.")
            if value is None:
                self.parts[role] = None
                continue
            key = value if isinstance(value, str) else registry.key_of(value)
            if key is None:
                raise RLCoreError(f"{role} must be a registry key or a registered class; got {value!r}.")
            cls = registry.get(registry.ROLES[role], key)
            reason = self._fits(role, cls)
            if reason:
                raise RLCoreError(f"{role} {key!r} does not fit {self.name}: it {reason}; "
                                  f"accepted: {', '.join(self.accepted(role))}.")
            self.parts[role] = key
        self.built = False
        return self

    def modules(self) -> dict[str, str | None]:
        """Role -> registry key actually used (None where the role is unused), for run.json."""
        return {role: self.parts.get(role) if role in self.slots else None for role in registry.ROLES}

    def make_part(self, role: str, *args: Any, **defaults: Any) -> Any:
        """Instantiate the part in ``role`` with ``args``; config-driven ``defaults`` are passed
        only where the constructor accepts them; user ``<role>_kwargs`` win."""
        cls = registry.get(registry.ROLES[role], self.parts[role])
        params = inspect.signature(cls).parameters
        kwargs = {k: v for k, v in defaults.items() if k in params}
        kwargs.update(self.part_kwargs.get(role, {}))
        return cls(*args, **kwargs)

    # ----- building ----------------------------------------------------------------------
    def build(self) -> "Agent":
        """Create the env (if given by id), seed everything and construct networks."""
        set_threads()
        self.generator = seed_everything(self.seed)
        if isinstance(self.env, str):
            self.env = make_env(self.env, self.num_envs, seed=self.seed, device=self.device,
                                **self.env_options())
        else:
            self._wrap_given_env()
        self._build()
        self._build_reward()
        self.choose_paths()
        self.built = True
        self.obs = None
        return self

    def _build_reward(self) -> None:
        """The intrinsic-reward part as ``self.reward`` (None when unset).

        It is built under its own random stream seeded from ``seed``, so adding a reward
        never changes how the agent's own networks are initialised or its actions drawn.
        Agents apply it in ``collect_rollout`` (on-policy) or ``offpolicy.sample``.
        """
        self.reward, self.reward_metrics = None, {}
        if "reward" not in self.slots or self.parts.get("reward") is None:
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + 104_729)
            self.reward = self.make_part("reward", self.env.single_observation_space, self.action_space,
                                         self.device)

    def choose_paths(self) -> None:
        """Pick the learner and collector (:func:`rlcore.interfaces.choose_paths`): a registered
        faster one where it supports this agent, else the eager reference. ``update_path``
        says which learner runs and why."""
        self.learner, self.collector, self.update_path = interfaces.choose_paths(self)

    def use_eager(self, why: str = "chosen by the caller") -> "Agent":
        """Run the eager reference learner and collector from now on."""
        self.ensure_built()
        self.learner, self.collector = self.make_learner(), self.make_collector()
        self.update_path = f"eager ({why})"
        return self

    def make_learner(self) -> interfaces.Learner:  # pragma: no cover - abstract
        """The eager reference learner of this algorithm."""
        raise NotImplementedError

    def make_collector(self) -> interfaces.Collector:  # pragma: no cover - abstract
        """The eager reference collector of this algorithm."""
        raise NotImplementedError

    def update(self, *args: Any) -> dict[str, float]:
        """One update by the chosen learner; returns its metrics."""
        self.ensure_built()
        return self.learner.update(*args)

    def env_options(self) -> dict[str, Any]:
        c = self.config
        return dict(normalize_obs=getattr(c, "normalize_obs", False),
                    normalize_reward=getattr(c, "normalize_reward", False),
                    gamma=getattr(c, "gamma", 0.99), frame_stack=getattr(c, "frame_stack", 1),
                    backend=self.backend)

    def _wrap_given_env(self) -> None:
        opts = self.env_options()
        if opts["normalize_obs"] and find_wrapper(self.env, NormalizeObservation) is None:
            self.env = NormalizeObservation(self.env)
        if opts["normalize_reward"] and find_wrapper(self.env, NormalizeReward) is None:
            self.env = NormalizeReward(self.env, gamma=opts["gamma"])

    def ensure_built(self) -> None:
        if not self.built:
            self.build()

    def _build(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def iterate(self) -> tuple[int, dict[str, float]]:  # pragma: no cover - abstract
        """Collect experience and update; return (env steps taken, metrics)."""
        raise NotImplementedError

    def reset_env(self) -> None:
        self.obs = self.env.reset(seed=self.seed)

    # ----- acting ------------------------------------------------------------------------
    def _action_bounds(self) -> None:
        space = self.action_space
        if isinstance(space, gym.spaces.Box):
            self.action_low = torch.as_tensor(space.low, dtype=torch.float32, device=self.device)
            self.action_high = torch.as_tensor(space.high, dtype=torch.float32, device=self.device)

    def to_env_action(self, action: torch.Tensor, squashed: bool) -> torch.Tensor:
        """Map a policy action to the env's action space (rescale from [-1, 1] or clip).

        MultiDiscrete actions are indices from 0; the space's ``start`` is added here.
        """
        if isinstance(self.action_space, gym.spaces.MultiDiscrete):
            start = self.action_space.start
            return action if not start.any() else action + torch.as_tensor(start, device=action.device)
        if not isinstance(self.action_space, gym.spaces.Box):
            return action
        if squashed:
            return self.action_low + (action + 1.0) * 0.5 * (self.action_high - self.action_low)
        return torch.maximum(torch.minimum(action, self.action_high), self.action_low)

    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """Env actions for a batch of observations (deterministic by default)."""
        raise NotImplementedError

    def progress_remaining(self) -> float:
        """1.0 at the start of training, 0.0 at ``total_steps`` (for linear schedules)."""
        if self.total_steps <= 0:
            return 1.0
        return max(0.0, 1.0 - self.global_step / self.total_steps)

    # ----- state -------------------------------------------------------------------------
    def networks(self) -> dict[str, torch.nn.Module]:
        """Name -> module or optimizer whose state is checkpointed."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        state = {name: obj.state_dict() for name, obj in self.networks().items()}
        for cls, name in ((NormalizeObservation, "obs_rms"), (NormalizeReward, "ret_rms")):
            wrapper = find_wrapper(self.env, cls)
            if wrapper is not None:
                state[name] = wrapper.rms.state_dict()
        if self.reward is not None:
            state["reward"] = self.reward.state_dict()
        state["global_step"] = torch.tensor(self.global_step)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ensure_built()
        for name, obj in self.networks().items():
            obj.load_state_dict(state[name])
        for cls, name in ((NormalizeObservation, "obs_rms"), (NormalizeReward, "ret_rms")):
            wrapper = find_wrapper(self.env, cls)
            if wrapper is not None and name in state:
                wrapper.rms.load_state_dict(state[name])
        if self.reward is not None and "reward" in state:
            self.reward.load_state_dict(state["reward"])
        self.global_step = int(state.get("global_step", 0))
        self.choose_paths()  # loading replaced the optimizers' state tensors

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (tensors only; loadable with ``weights_only=True``)."""
        self.ensure_built()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), path)
        return path

    def load(self, path: str | Path) -> "Agent":
        """Restore a checkpoint written by :meth:`save` (loaded with ``weights_only=True``)."""
        path = Path(path)
        if not path.is_file():
            raise RLCoreError(f"Checkpoint {str(path)!r} does not exist.")
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
            self.load_state_dict(state)
        except (RuntimeError, KeyError, EOFError) as exc:
            raise RLCoreError(f"Checkpoint {str(path)!r} does not match this {self.name} agent's "
                              f"networks and config ({str(exc).splitlines()[0][:120]}).") from None
        return self

    # ----- high level --------------------------------------------------------------------
    def train(self, total_steps: int, **trainer_kwargs: Any):
        """Train for ``total_steps`` env steps; see :class:`rlcore.trainer.Trainer` for options.

        Returns the run manifest (the contents of ``run.json``).
        """
        from rlcore.trainer import Trainer

        return Trainer(self, **trainer_kwargs).run(total_steps)

    def evaluate(self, episodes: int = 10, seed: int | None = None) -> dict[str, float]:
        """Deterministic evaluation over ``episodes`` episodes on a fresh env."""
        from rlcore.evaluation.rollout import evaluate_agent

        return evaluate_agent(self, episodes, seed=seed)
