"""Learners and collectors as parts: the Protocols, the eager references, and the registered
compiled paths that decline what they do not implement."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from rlcore import interfaces, make_agent, registry
from rlcore.errors import RLCoreError

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
ROOT = Path(__file__).resolve().parents[2] / "rlcore"
ENVS = {"dqn": "CartPole-v1", "ppo": "CartPole-v1", "a2c": "CartPole-v1", "td3": "Pendulum-v1",
        "ddpg": "Pendulum-v1", "sac": "Pendulum-v1"}


def test_agents_returns_and_utils_never_name_the_compiled_package():
    files = [*sorted((ROOT / "agents").glob("*.py")), ROOT / "returns.py", ROOT / "utils.py"]
    for path in files:
        text = path.read_text()
        assert not re.search(r"\bfast\b", text), f"{path.name} refers to the compiled path"


@pytest.mark.parametrize("algo", sorted(ENVS))
def test_every_agent_ships_an_eager_learner_and_collector(algo):
    agent = make_agent(algo, ENVS[algo], num_envs=2).build()
    learner, collector = agent.make_learner(), agent.make_collector()
    assert isinstance(learner, interfaces.Learner) and isinstance(collector, interfaces.Collector)
    assert isinstance(agent.learner, interfaces.Learner) and isinstance(agent.collector, interfaces.Collector)
    assert "fast" not in type(learner).__module__ and "fast" not in type(collector).__module__
    agent.use_eager()
    assert agent.update_path == "eager (chosen by the caller)" and type(agent.learner) is type(learner)


@pytest.mark.parametrize("role", ["policy", "storage", "distribution"])
def test_every_registered_part_satisfies_its_slot_protocol(role):
    kind = registry.ROLES[role]
    for key in registry.keys(kind):
        cls = registry.get(kind, key)
        proto = interfaces.slot_protocol(role, cls)
        assert interfaces.missing_members(cls, proto) == [], f"{role} {key}"


def test_a_part_missing_a_protocol_member_is_refused_in_one_sentence():
    class NoSample:  # an off-policy storage without ``sample``
        kind = "off_policy"

        def add(self, *args):
            pass

    registry.register("storages", "test_no_sample")(NoSample)
    try:
        with pytest.raises(RLCoreError, match=r"lacks sample of the storage contract"):
            make_agent("td3", "Pendulum-v1", storage="test_no_sample")
    finally:
        registry._REGISTRY["storages"].pop("test_no_sample")


def _fused_learners():
    from rlcore.fast.paths import FusedLearner

    for algo in sorted(ENVS):
        for cls in interfaces.registered_learners(algo):
            if issubclass(cls, FusedLearner):
                yield algo, cls


def _non_default(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1 if value else 0.5
    if isinstance(value, tuple):
        return (*value, 7)
    return f"{value}-other"


def test_fused_learners_declare_only_real_config_fields():
    pairs = list(_fused_learners())
    assert {algo for algo, _ in pairs} == {"td3", "ddpg", "sac", "ppo"}
    for algo, cls in pairs:
        names = {f.name for f in dataclasses.fields(registry.get("agents", algo).Config)}
        assert cls.fields <= names, f"{cls.__name__} declares fields {cls.fields - names} that {algo} lacks"


@needs_cc
def test_a_fused_learner_declines_every_non_default_field_it_does_not_implement():
    from rlcore.fast.paths import unsupported_fields

    for algo, cls in _fused_learners():
        config_cls = registry.get("agents", algo).Config
        for f in dataclasses.fields(config_cls):
            if f.name in cls.fields:
                continue
            config = dataclasses.replace(config_cls(), **{f.name: _non_default(f.default)})
            assert unsupported_fields(config, cls.fields), (algo, f.name)


@needs_cc
def test_a_new_config_field_written_only_in_python_sends_the_agent_eager():
    """What happens when someone adds a PPOConfig field and implements it in the eager learner
    only: the fused learner has not declared it, so it declines and the agent runs eager."""
    agent = make_agent("ppo", "CartPole-v1", num_envs=2).build()
    assert agent.update_path == "fused"
    base = type(agent.config)
    extended = dataclasses.make_dataclass("PPOConfigPlus", [("new_term", float, dataclasses.field(default=0.0))],
                                          bases=(base,))
    agent.config = extended(**dataclasses.asdict(agent.config))
    agent.choose_paths()
    assert agent.update_path == "fused"  # at its default the new field changes nothing
    agent.config.new_term = 0.25
    agent.choose_paths()
    assert agent.update_path == "eager (fused kernels do not cover the config field new_term=0.25)"
    assert type(agent.learner).__name__ == "PPOLearner"


@needs_cc
def test_struct_layouts_are_checked_against_the_compiled_library(monkeypatch):
    from rlcore.fast import lib

    library = lib.library()
    assert library is not None and lib.layout_mismatch(library) is None
    assert len(lib.python_layout()) == sum(1 + len(s._fields_) for s in lib.STRUCTS)
    swapped = (lib._Adam, lib._Mlp, *lib.STRUCTS[2:])  # a mirror that no longer matches kernels.h
    monkeypatch.setattr(lib, "STRUCTS", swapped)
    reason = lib.layout_mismatch(library)
    assert reason is not None and reason.startswith("the struct layout of Adam.sizeof differs between kernels.h")


def test_dqn_refuses_a_learning_rate_schedule_it_does_not_implement():
    with pytest.raises(RLCoreError) as err:
        make_agent("dqn", "CartPole-v1", dict(lr_schedule="cosine"))
    assert str(err.value) == "DQNConfig field 'lr_schedule' got 'cosine'; accepted: constant, linear."


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
def test_the_linear_schedule_is_the_same_for_every_agent(algo):
    agent = make_agent(algo, ENVS[algo], dict(lr_schedule="linear", lr=0.01), num_envs=2).build()
    agent.total_steps, agent.global_step = 1000, 250
    assert agent.progress_remaining() == pytest.approx(0.75)
    from rlcore.utils import scheduled

    assert scheduled(0.01, "linear", agent.progress_remaining()) == pytest.approx(0.0075)
    assert scheduled(0.01, "constant", 0.1) == 0.01


def test_ddpg_is_a_sibling_of_td3_not_derived_from_it():
    from rlcore.agents.ddpg import DDPG
    from rlcore.agents.td3 import TD3, DeterministicActorCritic

    assert DDPG.__bases__ == TD3.__bases__ == (DeterministicActorCritic,) and not issubclass(DDPG, TD3)
    agent = make_agent("ddpg", "Pendulum-v1", dict(hidden=(8, 8))).build()
    assert len(agent.policy.critics) == 1 and agent.config.policy_delay == 1


@needs_cc
def test_building_a_torch_env_never_loads_the_compiled_library(monkeypatch):
    import torch

    from rlcore import make_env
    from rlcore.fast import lib

    monkeypatch.setattr(lib, "_state", {})
    env = make_env("CartPole-v1", num_envs=2, seed=0, backend="torch")
    assert "lib" not in lib._state  # built without running the compiler
    env.reset(seed=0)
    env.step(torch.zeros(2, dtype=torch.long))
    assert lib._state.get("lib") is not None and env.native.lib is lib._state["lib"]
