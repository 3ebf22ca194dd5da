"""RunSpec: what a training job is, and its JSON schema built from rlcore's registry.

The schema is a ``oneOf`` with one branch per registered algorithm: the branch fixes
``algo`` and lists exactly that agent's config fields (types, bounds, accepted strings,
docs from the Config dataclass) and the registry keys that fit each of its part slots.
Constrained decoding with this schema therefore cannot produce a config field or part key
that the chosen agent does not have.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.errors import CodegenError

MAX_STEPS = 50_000_000
MAX_ENVS = 256
MAX_SEED = 2**31 - 1
MAX_EVAL = 1000
ENV_ID_MAX_LEN = 80
SPEC_KEYS = ("algo", "env_id", "total_steps", "seed", "num_envs", "config", "parts", "eval_episodes",
             "checkpoint_every")


SPEC_TYPES = {  # key -> (accepted types, refused subtypes, in words)
    "algo": (str, (), "a registered algorithm key"), "env_id": (str, (), "an env id string"),
    "total_steps": (int, bool, "an integer"), "seed": (int, bool, "an integer"),
    "num_envs": (int, bool, "an integer or null"), "config": (dict, (), "an object of config fields"),
    "parts": (dict, (), "an object of role: key"), "eval_episodes": (int, bool, "an integer"),
    "checkpoint_every": (int, bool, "an integer"), "notes": (list, (), "a list of strings"),
}


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass
class RunSpec:
    """One training job.

    Attributes:
        algo: registered algorithm key (``ppo``, ``sac``, ...).
        env_id: registered Gymnasium env id.
        total_steps: environment steps to train for.
        seed: random seed.
        num_envs: parallel environments (None: the agent's default).
        config: agent config fields that differ from the defaults.
        parts: role -> registry key for swapped parts (``{"reward": "rnd"}``).
        eval_episodes: deterministic evaluation episodes after training.
        checkpoint_every: also checkpoint every this many steps (0: only the final one).
        notes: adjustments made while checking the spec, in plain words.
    """

    algo: str
    env_id: str
    total_steps: int
    seed: int = 0
    num_envs: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, str] = field(default_factory=dict)
    eval_episodes: int = 10
    checkpoint_every: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunSpec":
        """A spec from a dict with the keys above (unknown keys are refused)."""
        if not isinstance(data, dict):
            raise CodegenError(f"A spec must be a JSON object; got {type(data).__name__}.")
        extra = sorted(set(data) - set(SPEC_KEYS) - {"notes"})
        if extra:
            raise CodegenError(f"Unknown spec key {extra[0]!r}; accepted: {', '.join(SPEC_KEYS)}.")
        missing = [k for k in ("algo", "env_id", "total_steps") if k not in data]
        if missing:
            raise CodegenError(f"The spec lacks {missing[0]!r}; it needs algo, env_id and total_steps.")
        values = {k: data[k] for k in SPEC_KEYS if k in data and data[k] is not None}
        for key, kinds in SPEC_TYPES.items():
            value = values.get(key, data.get(key))
            if value is None and key in ("algo", "env_id", "total_steps"):
                raise CodegenError(f"The spec's {key!r} is empty; it needs algo, env_id and total_steps.")
            if value is not None and (not isinstance(value, kinds[0]) or isinstance(value, kinds[1])):
                raise CodegenError(f"The spec's {key!r} got {type(value).__name__} {_short(value)}; "
                                   f"accepted: {kinds[2]}.")
        values["config"] = dict(values.get("config") or {})
        values["parts"] = {k: v for k, v in dict(values.get("parts") or {}).items() if v}
        if not all(isinstance(v, str) for v in values["parts"].values()):
            raise CodegenError("The spec's 'parts' must map each role to a registry key (a string).")
        values["notes"] = [str(n) for n in (data.get("notes") or [])]
        return cls(**values)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=False)


def _int(minimum: int, maximum: int, doc: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "description": doc}


def config_schema(algo: str) -> dict[str, Any]:
    """JSON schema of ``algo``'s config overrides: every field optional, no others allowed."""
    info = catalog.config_info(algo)
    return {"type": "object", "description": f"{catalog.config_class_name(algo)} fields that differ "
            "from the defaults", "properties": {name: f.schema() for name, f in info.items()},
            "additionalProperties": False}


def parts_schema(algo: str) -> dict[str, Any]:
    """JSON schema of ``algo``'s part swaps: role -> registry keys that fit it."""
    props = {role: {"type": "string", "enum": list(keys)}
             for role, keys in catalog.part_keys(algo).items() if keys}
    return {"type": "object", "description": "role -> registry key of a swapped part",
            "properties": props, "additionalProperties": False}


def branch_schema(algo: str) -> dict[str, Any]:
    """The RunSpec schema with ``algo`` fixed."""
    props = {
        "algo": {"type": "string", "enum": [algo], "description": "registered algorithm key"},
        "env_id": {"type": "string", "maxLength": ENV_ID_MAX_LEN,
                   "description": "a registered Gymnasium env id such as CartPole-v1"},
        "total_steps": _int(1, MAX_STEPS, "environment steps to train for"),
        "seed": _int(0, MAX_SEED, "random seed"),
        "num_envs": _int(1, MAX_ENVS, f"parallel environments (default {catalog.default_num_envs(algo)})"),
        "config": config_schema(algo),
        "parts": parts_schema(algo),
        "eval_episodes": _int(0, MAX_EVAL, "deterministic evaluation episodes after training"),
        "checkpoint_every": _int(0, MAX_STEPS, "checkpoint every this many steps; 0 = final only"),
    }
    return {"type": "object", "properties": props, "required": list(SPEC_KEYS),
            "additionalProperties": False}


def run_spec_schema(algos: list[str] | None = None) -> dict[str, Any]:
    """The RunSpec JSON schema over ``algos`` (default: every registered algorithm)."""
    chosen = list(algos or catalog.algos())
    if len(chosen) == 1:
        schema = branch_schema(chosen[0])
    else:
        schema = {"oneOf": [branch_schema(a) for a in chosen]}
    return {"title": "RunSpec", **schema}


def grammar_schema(algos: list[str] | None = None) -> dict[str, Any]:
    """:func:`run_spec_schema` without descriptions (smaller grammar, same language)."""
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("description", "title")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(run_spec_schema(algos))
