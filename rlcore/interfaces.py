"""The contracts between an agent and its parts, as typed Protocols, and the choice of path.

An agent is a config plus parts. Its **learner** turns stored experience into parameter
updates (``update() -> dict[str, float]``) and its **collector** fills the storage from the
env (``collect(n) -> int`` env steps). Every agent ships an eager learner and collector, the
readable reference. Faster implementations register beside them with
:func:`register_learner` / :func:`register_collector`; each has a class method
``supports(agent) -> None | reason`` and is used only when it returns None
(:func:`choose_paths`). The agent itself never names them.

The slot Protocols (:class:`Policy`, :class:`OnPolicyStorage`, :class:`OffPolicyStorage`,
:class:`Distribution`) state what an agent may rely on from the part in each role;
:func:`missing_members` checks a registered class against them.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterator, Protocol, runtime_checkable

import torch


@runtime_checkable
class Learner(Protocol):
    """Updates an agent's networks from its storage; returns metrics (only the trainer logs)."""

    def update(self) -> dict[str, float]: ...


@runtime_checkable
class Collector(Protocol):
    """Steps the agent's env ``n`` times per sub-env into its storage; returns env steps taken."""

    def collect(self, n: int) -> int: ...


class Distribution(Protocol):
    """An action distribution head: maps ``num_params`` network outputs to a distribution."""

    spaces: ClassVar[tuple[type, ...]]  # action-space types it supports
    has_log_prob: ClassVar[bool]  # False for exploration noise around a deterministic action
    squashed: ClassVar[bool]  # True when samples lie in [-1, 1] and are rescaled to the bounds
    num_params: int

    def __call__(self, params: torch.Tensor) -> Any: ...


class Policy(Protocol):
    """A policy module; ``family`` says which agents can use it."""

    family: ClassVar[str]  # "actor_critic", "q_network", "deterministic_twin", "stochastic_twin"

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...

    def __call__(self, obs: Any) -> Any: ...


class OnPolicyStorage(Protocol):
    """One rollout of ``size`` steps x ``num_envs``, with advantages after :meth:`finish`."""

    kind: ClassVar[str]  # "on_policy"
    size: int
    num_envs: int

    def add(self, obs, actions, log_probs, values, rewards, dones) -> None: ...

    def finish(self, last_value: torch.Tensor, gamma: float, lam: float) -> None: ...

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Any]: ...


class OffPolicyStorage(Protocol):
    """A replay memory of transitions sampled in minibatches."""

    kind: ClassVar[str]  # "off_policy"

    def add(self, obs, actions, rewards, next_obs, terminated, truncated=None) -> None: ...

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Any: ...


SLOT_PROTOCOLS: dict[str, dict[str, type]] = {
    "policy": {"": Policy},
    "distribution": {"": Distribution},
    "storage": {"on_policy": OnPolicyStorage, "off_policy": OffPolicyStorage},
}


def protocol_members(proto: type) -> list[str]:
    """Names a class must have to satisfy ``proto`` (attributes and methods)."""
    names = set(getattr(proto, "__annotations__", {}))
    names |= {k for k, v in vars(proto).items() if callable(v) and not k.startswith("_")}
    if "__call__" in vars(proto):
        names.add("__call__")
    return sorted(names)


def missing_members(cls: type, proto: type) -> list[str]:
    """Members of ``proto`` that ``cls`` lacks. Instance attributes set in ``__init__`` (such
    as ``num_params`` or ``size``) are checked on instances, so a class is checked only for its
    class-level members and methods."""
    instance_only = {"num_params", "size", "num_envs"}
    return [m for m in protocol_members(proto) if m not in instance_only and not hasattr(cls, m)]


def slot_protocol(role: str, cls: type) -> type | None:
    """The Protocol a part in ``role`` must satisfy (None for roles without one)."""
    protos = SLOT_PROTOCOLS.get(role)
    if protos is None:
        return None
    return protos.get("") or protos.get(getattr(cls, "kind", ""), OnPolicyStorage)


# ----- paths beside the eager ones -------------------------------------------------------------
_LEARNERS: dict[str, list[type]] = {}
_COLLECTORS: dict[str, list[type]] = {}


def _adder(table: dict[str, list[type]], agents: tuple[str, ...]) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        if not callable(getattr(cls, "supports", None)):
            raise TypeError(f"{cls.__name__} needs a supports(agent) -> None | reason class method.")
        for key in agents:
            table.setdefault(key, [])
            if cls not in table[key]:
                table[key].append(cls)
        return cls

    return deco


def register_learner(*agents: str) -> Callable[[type], type]:
    """Register a learner class for the agents named ``agents`` (tried in registration order)."""
    return _adder(_LEARNERS, agents)


def register_collector(*agents: str) -> Callable[[type], type]:
    """Register a collector class for the agents named ``agents`` (tried in registration order)."""
    return _adder(_COLLECTORS, agents)


def registered_learners(agent_key: str) -> list[type]:
    from rlcore.registry import load_builtins

    load_builtins()
    return list(_LEARNERS.get(agent_key, ()))


def registered_collectors(agent_key: str) -> list[type]:
    from rlcore.registry import load_builtins

    load_builtins()
    return list(_COLLECTORS.get(agent_key, ()))


def choose_paths(agent) -> tuple[Learner, Collector, str]:
    """(learner, collector, description) for a built agent.

    The first registered learner whose ``supports(agent)`` is None is used, else the agent's
    eager learner; the description is ``"fused"`` or ``"eager (<why>)"``. Collectors are then
    chosen the same way, with ``agent.learner`` already set to the chosen learner.
    """
    learner, path = None, f"eager ({agent.name} has no fused kernel)"
    for cls in registered_learners(agent.name):
        reason = cls.supports(agent)
        if reason is None:
            learner, path = cls(agent), "fused"
            break
        path = f"eager ({reason})"
    agent.learner = learner or agent.make_learner()
    collector = None
    for cls in registered_collectors(agent.name):
        if cls.supports(agent) is None:
            collector = cls(agent)
            break
    return agent.learner, collector or agent.make_collector(), path
