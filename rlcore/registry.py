"""Names -> classes for agents and every module kind.

Every swappable part is registered under a lower-case key::

    @register("encoders", "mlp")
    class MlpEncoder(nn.Module): ...

    get("encoders", "mlp")       # -> MlpEncoder
    keys("distributions")        # -> sorted list of keys
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from rlcore.errors import unknown

KINDS = ("agents", "encoders", "policies", "storages", "distributions", "augmentations", "rewards")
ROLES = {  # module role in run.json -> registry kind
    "encoder": "encoders",
    "policy": "policies",
    "storage": "storages",
    "distribution": "distributions",
    "augmentation": "augmentations",
    "reward": "rewards",
}

_REGISTRY: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
T = TypeVar("T")


def _check_kind(kind: str) -> None:
    if kind not in _REGISTRY:
        raise unknown("module kind", kind, KINDS)


def register(kind: str, key: str) -> Callable[[T], T]:
    """Class decorator registering ``cls`` under ``kind``/``key`` (key must be lower-case)."""
    _check_kind(kind)
    if key != key.lower():
        raise ValueError(f"Registry keys are lower-case; got {key!r}.")

    def deco(obj: T) -> T:
        existing = _REGISTRY[kind].get(key)
        if existing is not None and existing is not obj:
            raise ValueError(f"{kind} key {key!r} is already registered to {existing!r}.")
        _REGISTRY[kind][key] = obj
        obj.registry_key = key  # type: ignore[attr-defined]
        return obj

    return deco


def load_builtins() -> None:
    """Import the built-in packages, which runs their ``@register`` decorators; the compiled
    paths (:mod:`rlcore.fast`) register their learners and collectors beside the agents'."""
    import rlcore.agents  # noqa: F401
    import rlcore.augment  # noqa: F401
    import rlcore.distributions  # noqa: F401
    import rlcore.encoders  # noqa: F401
    import rlcore.policies  # noqa: F401
    import rlcore.rewards  # noqa: F401
    import rlcore.storage  # noqa: F401
    import rlcore.fast.paths  # noqa: F401


def get(kind: str, key: str) -> Any:
    """The object registered under ``kind``/``key``; a one-sentence error names the accepted keys."""
    _check_kind(kind)
    load_builtins()
    try:
        return _REGISTRY[kind][key.lower()]
    except KeyError:
        singular = {"agents": "algorithm", **{k: role for role, k in ROLES.items()}}[kind]
        raise unknown(singular, key, _REGISTRY[kind]) from None


def keys(kind: str) -> list[str]:
    """Sorted keys registered for ``kind``."""
    _check_kind(kind)
    load_builtins()
    return sorted(_REGISTRY[kind])


def catalog() -> dict[str, list[str]]:
    """Every kind mapped to its sorted keys (what ``python -m rlcore list --json`` prints)."""
    return {kind: keys(kind) for kind in KINDS}


def key_of(obj: Any) -> str | None:
    """The registry key of a registered class or of an instance of one, else None."""
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj
    cls = obj if isinstance(obj, type) else type(obj)
    return getattr(cls, "registry_key", None)
