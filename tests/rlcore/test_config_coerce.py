"""One coercer for agent config values: CLI text (lenient) and typed JSON values (strict)."""

from __future__ import annotations

import pytest

from rlcore import make_agent
from rlcore.config import coerce_value
from rlcore.errors import RLCoreError


@pytest.mark.parametrize("value,kind,expected", [
    ("1e4", "int", 10_000), ("12", "int", 12), (3.0, "int", 3), ("0.5", "float", 0.5), ("yes", "bool", True),
    ("off", "bool", False), ("64,64", "tuple", (64, 64)), ("(32, 16)", "tuple", (32, 16)), ([8, 8], "tuple", (8, 8)),
    (7, "str", "7"), (10**18 + 1, "int", 10**18 + 1), ("1000000000000000001", "int", 10**18 + 1),
])
def test_text_and_numbers_become_the_field_type(value, kind, expected):
    assert coerce_value(value, kind) == expected


@pytest.mark.parametrize("value,kind", [(2.5, "int"), ("2.5", "int"), ("maybe", "bool"), ("x", "float"),
                                        (float("inf"), "int")])
def test_values_that_are_not_the_type_are_refused(value, kind):
    with pytest.raises((ValueError, TypeError)):
        coerce_value(value, kind)


@pytest.mark.parametrize("value,kind", [(True, "int"), (False, "float"), ("true", "bool"), (1, "bool")])
def test_strict_mode_refuses_booleans_and_numbers_standing_in_for_each_other(value, kind):
    coerce_value(value, kind)  # lenient: accepted
    with pytest.raises(ValueError):
        coerce_value(value, kind, strict=True)


def test_build_config_reports_a_bad_value_in_one_sentence():
    with pytest.raises(RLCoreError) as err:
        make_agent("ppo", "CartPole-v1", dict(n_steps="2.5"))
    assert str(err.value) == "PPOConfig field 'n_steps' got '2.5', which is not a valid int."


@pytest.mark.parametrize("algo,name,meant", [
    ("ppo", "learning_rate", "'lr'"), ("td3", "learning_rate", "'lr', 'actor_lr'"), ("ppo", "clip_param", "'clip_range'"),
    ("dqn", "replay_size", "'buffer_size'"), ("ppo", "batchsize", "'batch_size'")])
def test_an_unknown_field_suggests_what_other_libraries_call_it_first(algo, name, meant):
    # "learning_rate" only looks like 'clip_range' to difflib; users mean PPO's `lr`
    with pytest.raises(RLCoreError, match=rf"Unknown \w+ config field '{name}' \(did you mean {meant}"):
        make_agent(algo, "Pendulum-v1" if algo == "td3" else "CartPole-v1", config={name: 1})
