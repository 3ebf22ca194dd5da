"""Building agent config dataclasses from dicts or ``field=value`` strings, with clear errors."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable
from typing import Any

from rlcore.errors import RLCoreError, unknown

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def coerce_value(value: Any, kind: str, *, strict: bool = False) -> Any:
    """``value`` as a config field of ``kind`` (``bool``, ``int``, ``float``, ``tuple``, ``str``);
    ``ValueError`` or ``TypeError`` when it is not one.

    Text is parsed (``"1e4"`` for an int, ``"64,64"`` for a tuple, ``"yes"`` for a bool).
    ``strict`` (values that arrive typed, e.g. as JSON) refuses booleans given as text or
    numbers and numbers given as booleans. This is the one coercer of agent config values:
    :func:`build_config` and code generation both use it.
    """
    if kind == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).lower()
        if strict or s not in _TRUE | _FALSE:
            raise ValueError(value)
        return s in _TRUE
    if strict and kind in ("int", "float") and isinstance(value, bool):
        raise ValueError(value)
    if kind == "int":
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                value = float(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "tuple":
        items = value.replace("(", "").replace(")", "").split(",") if isinstance(value, str) else value
        return tuple(int(x) for x in items if str(x).strip() != "")
    if kind == "str":
        return str(value)
    return value


def _kind(annotation: Any) -> str:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    kind = kind.replace("typing.", "")
    return next((k for k in ("bool", "int", "float", "tuple", "str") if kind.startswith(k)), kind)


def _coerce(cls_name: str, name: str, value: Any, annotation: Any) -> Any:
    """Convert ``value`` (often a CLI string) to the field's declared type."""
    kind = _kind(annotation)
    try:
        return coerce_value(value, kind)
    except (TypeError, ValueError, OverflowError):
        raise RLCoreError(f"{cls_name} field {name!r} got {value!r}, which is not a valid {kind}.") from None


# what other libraries and papers call rlcore's config fields: the suggestion for an unknown field
# ("learning_rate" -> 'lr', which spelling alone would not find: difflib offers 'clip_range')
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("learning_rate", "learningrate", "step_size"), ("lr", "actor_lr", "critic_lr")),
    **dict.fromkeys(("clip_param", "clip_epsilon", "clip_eps", "clip_ratio", "epsilon_clip"),
                    ("clip_range",)),
    **dict.fromkeys(("entropy_coef", "entropy_coeff", "entropy_weight", "ent_coeff"), ("ent_coef",)),
    **dict.fromkeys(("value_coef", "value_loss_coef", "vf_coeff", "value_coeff"), ("vf_coef",)),
    **dict.fromkeys(("num_epochs", "epochs", "ppo_epochs", "update_epochs"), ("n_epochs",)),
    **dict.fromkeys(("minibatch_size", "mini_batch_size", "batch"), ("batch_size",)),
    **dict.fromkeys(("discount", "discount_factor"), ("gamma",)),
    **dict.fromkeys(("polyak", "soft_update_coef"), ("tau",)),
    **dict.fromkeys(("num_steps", "rollout_length", "horizon"), ("n_steps",)),
    **dict.fromkeys(("lam", "lambda", "gae_lam"), ("gae_lambda",)),
    **dict.fromkeys(("replay_size", "memory_size", "buffer_capacity", "replay_buffer_size"),
                    ("buffer_size",)),
    **dict.fromkeys(("warmup_steps", "start_steps", "learning_start"), ("learning_starts",)),
    **dict.fromkeys(("grad_clip", "max_grad", "clip_grad_norm"), ("max_grad_norm",)),
}


def unknown_field(owner: str, name: str, fields: Iterable[str]) -> RLCoreError:
    """The one-sentence error for a config field ``owner`` (an algorithm) lacks, suggesting what
    other libraries' name for it means here first (:data:`FIELD_SYNONYMS`)."""
    return unknown(f"{owner} config field", name, fields, limit=40, synonyms=FIELD_SYNONYMS)


def build_config(cls: type, overrides: Any = None) -> Any:
    """An instance of config dataclass ``cls`` with ``overrides`` (dict, instance or None) applied.

    Unknown fields and values of the wrong type raise one-sentence :class:`RLCoreError`.
    """
    if overrides is None:
        overrides = {}
    if isinstance(overrides, cls):
        return dataclasses.replace(overrides)
    if not isinstance(overrides, dict):
        raise RLCoreError(f"Config must be a dict or a {cls.__name__}; got {type(overrides).__name__}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in overrides.items():
        if name not in fields:
            raise unknown_field(cls.__name__.removesuffix("Config"), name, fields)
        values[name] = _coerce(cls.__name__, name, value, hints.get(name, fields[name].type))
    config = cls(**values)
    check = getattr(config, "validate", None)
    if check is not None:
        check()
    return config


def check_choice(config: Any, name: str, accepted: tuple[str, ...]) -> None:
    """Refuse a config field whose value is not one of ``accepted``, in one sentence."""
    value = getattr(config, name)
    if value not in accepted:
        raise RLCoreError(f"{type(config).__name__} field {name!r} got {value!r}; accepted: {', '.join(accepted)}.")


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["lr=1e-3", "gamma=0.9"]`` -> ``{"lr": "1e-3", "gamma": "0.9"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RLCoreError(f"--set expects field=value; got {item!r}.")
        out[key.strip()] = value.strip()
    return out


def config_fields(cls: type) -> dict[str, dict[str, Any]]:
    """Field name -> {type, default, doc} for a config dataclass (docs come from ``field(metadata)``)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        ann = hints.get(f.name, f.type)
        out[f.name] = {"type": getattr(ann, "__name__", str(ann)), "default": default,
                       "doc": f.metadata.get("doc", "")}
    return out
