"""What rlcore offers, read from its registry and config dataclasses (never hard-coded).

Everything code generation knows about algorithms, config fields, parts and environments
comes from here, so a new agent, config field or registered part shows up in the RunSpec
schema, the prompt and the checks without touching this package.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from dataclasses import dataclass
from typing import Any

from rlcore import registry
from rlcore.config import config_fields

# Classic environments named in prompts and suggestions (only those registered are used).
COMMON_ENVS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1",
               "MountainCarContinuous-v0", "LunarLander-v3", "LunarLanderContinuous-v3",
               "BipedalWalker-v3")
SPACE_WORDS = {"Discrete": "discrete", "Box": "continuous (Box)"}
UNIT_FIELDS = {"gamma", "gae_lambda", "tau", "exploration_fraction", "exploration_initial_eps",
               "exploration_final_eps"}
FREE_SIGN_FIELDS = {"log_std_init", "target_entropy"}
INT_MAX = 100_000_000


@dataclass(frozen=True)
class FieldInfo:
    """One config field: JSON type, default, doc, bounds and accepted strings."""

    name: str
    type: str  # "number", "integer", "boolean", "string" or "array"
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    choices: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The JSON schema of this field (bounds only where llama.cpp grammars take them)."""
        if self.type == "array":
            return {"type": "array", "items": {"type": "integer", "minimum": 1}, "description": self.doc}
        if self.choices:
            return {"type": "string", "enum": list(self.choices), "description": self.doc}
        out: dict[str, Any] = {"type": self.type, "description": self.doc}
        if self.minimum is not None:
            out["exclusiveMinimum" if self.exclusive_min else "minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def check(self, value: Any) -> str | None:
        """None if ``value`` is acceptable, else the reason (a sentence fragment)."""
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        if self.type in ("number", "integer") and not isinstance(value, bool):
            v = float(value)
            if self.minimum is not None and (v <= self.minimum if self.exclusive_min else v < self.minimum):
                return f"must be {'above' if self.exclusive_min else 'at least'} {self.minimum:g}"
            if self.maximum is not None and v > self.maximum:
                return f"must be at most {self.maximum:g}"
        return None


def _json_type(annotation: str) -> str:
    return {"float": "number", "int": "integer", "bool": "boolean", "str": "string",
            "tuple": "array", "list": "array"}.get(annotation.split("[")[0], "string")


def _bounds(name: str, jtype: str, default: Any) -> tuple[float | None, float | None, bool]:
    if jtype not in ("number", "integer"):
        return None, None, False
    if name in UNIT_FIELDS:
        return 0.0, 1.0, False
    if "lr" in name.split("_"):
        return 0.0, 1.0, not (isinstance(default, (int, float)) and default == 0)  # 0 means "not set"
    if jtype == "integer":
        return (1.0 if isinstance(default, int) and default >= 1 else 0.0), float(INT_MAX), False
    if jtype == "number" and name not in FREE_SIGN_FIELDS and (default is None or default >= 0):
        return 0.0, None, name in ("init_alpha",)
    return None, None, False


def _choices(name: str, jtype: str, doc: str) -> tuple[str, ...]:
    if jtype != "string":
        return ()
    if name == "activation":
        from rlcore.encoders import ACTIVATIONS

        return tuple(ACTIVATIONS)
    quoted = re.findall(r"'([a-z0-9_]+)'", doc)
    return tuple(dict.fromkeys(quoted)) if len(quoted) >= 2 else ()


@functools.lru_cache(maxsize=None)
def config_info(algo: str) -> dict[str, FieldInfo]:
    """Field name -> :class:`FieldInfo` for the Config dataclass of ``algo``."""
    cls = agent_class(algo).Config
    hints = typing.get_type_hints(cls)
    out = {}
    for name, info in config_fields(cls).items():
        ann = hints.get(name)
        jtype = _json_type(getattr(ann, "__name__", str(info["type"])))
        lo, hi, excl = _bounds(name, jtype, info["default"])
        default = list(info["default"]) if isinstance(info["default"], tuple) else info["default"]
        out[name] = FieldInfo(name, jtype, default, info["doc"], lo, hi, excl,
                              _choices(name, jtype, info["doc"]))
    return out


def algos() -> list[str]:
    """Registered algorithm keys."""
    return registry.keys("agents")


def agent_class(algo: str) -> Any:
    return registry.get("agents", algo)


def space_names(algo: str) -> list[str]:
    """Action-space type names an algorithm can act in (``Discrete``, ``Box``)."""
    return [s.__name__ for s in agent_class(algo).action_spaces]


def default_num_envs(algo: str) -> int:
    return int(agent_class(algo).default_num_envs)


def is_on_policy(algo: str) -> bool:
    return agent_class(algo).storage_kind == "on_policy"


def _fits(agent: Any, role: str, part: Any) -> bool:
    if role == "policy":
        return getattr(part, "family", None) == agent.policy_family
    if role == "storage":
        return getattr(part, "kind", None) == agent.storage_kind
    if role == "distribution":
        spaces = getattr(part, "spaces", ())
        if not any(issubclass(s, spaces) for s in agent.action_spaces):
            return False
        try:
            return agent._distribution_fits(None, part) is None
        except Exception:  # noqa: BLE001 - a check that needs an instance: let rlcore decide later
            return True
    return True


@functools.lru_cache(maxsize=None)
def part_keys(algo: str) -> dict[str, tuple[str, ...]]:
    """Role -> registry keys that fit ``algo`` (only the roles the agent has a slot for)."""
    agent = agent_class(algo)
    out = {}
    for role in agent.slots:
        kind = registry.ROLES[role]
        out[role] = tuple(k for k in registry.keys(kind) if _fits(agent, role, registry.get(kind, k)))
    return out


def roles() -> dict[str, str]:
    """Part role -> registry kind."""
    return dict(registry.ROLES)


def all_part_keys() -> dict[str, list[str]]:
    """Role -> every registered key of that role's kind."""
    return {role: registry.keys(kind) for role, kind in registry.ROLES.items()}


# ----- environments ----------------------------------------------------------------------
def env_registered(env_id: str) -> bool:
    """Whether ``env_id`` is a registered Gymnasium id, checked without importing anything it names.

    A ``module:EnvId`` id is accepted when the module can be located statically; importing it
    (and so registering the env) happens only inside the sandboxed run.
    """
    if ":" in env_id:
        from copilot.codegen.validate_calls import find_module

        return find_module(env_id.partition(":")[0]) is not None
    try:
        from rlcore.envs import check_env_id

        check_env_id(env_id)
        return True
    except ValueError:
        return False


def registered_envs() -> list[str]:
    import gymnasium as gym

    return sorted(gym.registry.keys())


def common_envs() -> list[str]:
    return [e for e in COMMON_ENVS if env_registered(e)]


@functools.lru_cache(maxsize=64)
def env_action_space(env_id: str) -> str:
    """The type name of ``env_id``'s action space (``Discrete``, ``Box``, ...)."""
    import gymnasium as gym

    if ":" in env_id:
        return "unknown"  # the module is imported only inside the sandboxed run
    env = gym.make(env_id)
    try:
        return type(env.action_space).__name__
    finally:
        env.close()


def algos_for_space(space: str) -> list[str]:
    """Algorithms that can act in an action space of type ``space``."""
    return [a for a in algos() if space in space_names(a)]


def trainer_options() -> list[str]:
    """Keyword arguments :meth:`rlcore.agents.base.Agent.train` passes to the trainer."""
    import inspect

    from rlcore.trainer import Trainer

    return [p for p in inspect.signature(Trainer.__init__).parameters if p not in ("self", "agent")]


def make_agent_options() -> list[str]:
    """Keyword arguments ``make_agent`` takes besides parts by role."""
    import inspect

    from rlcore.agents.base import Agent

    params = inspect.signature(Agent.__init__).parameters
    return [p for p, v in params.items() if v.kind == v.KEYWORD_ONLY]


def config_class_name(algo: str) -> str:
    return agent_class(algo).Config.__name__


def field_names(algo: str) -> list[str]:
    return [f.name for f in dataclasses.fields(agent_class(algo).Config)]
