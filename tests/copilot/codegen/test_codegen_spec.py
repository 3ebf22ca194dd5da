"""The RunSpec schema is built from rlcore's registry and Config dataclasses."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from copilot.codegen import catalog
from copilot.codegen.errors import CodegenError
from copilot.codegen.spec import SPEC_KEYS, RunSpec, branch_schema, grammar_schema, run_spec_schema
from rlcore import registry

JSON_TYPES = {"float": "number", "int": "integer", "bool": "boolean", "str": "string", "tuple": "array"}


def test_schema_has_one_branch_per_registered_agent():
    schema = run_spec_schema()
    algos = [b["properties"]["algo"]["enum"] for b in schema["oneOf"]]
    assert algos == [[a] for a in registry.keys("agents")]
    assert all(b["required"] == list(SPEC_KEYS) for b in schema["oneOf"])


@pytest.mark.parametrize("algo", registry.keys("agents"))
def test_branch_covers_every_config_field_with_its_type(algo):
    cls = registry.get("agents", algo).Config
    props = branch_schema(algo)["properties"]["config"]["properties"]
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(props) == names
    for name in names:
        want = JSON_TYPES[hints[name].__name__]
        assert props[name]["type"] == want, name
        assert props[name]["description"], f"{algo}.{name} has no doc"
    assert branch_schema(algo)["properties"]["config"]["additionalProperties"] is False


@pytest.mark.parametrize("algo", registry.keys("agents"))
def test_parts_are_registry_keys_that_fit_the_agent(algo):
    agent = registry.get("agents", algo)
    parts = branch_schema(algo)["properties"]["parts"]["properties"]
    assert set(parts) <= set(agent.slots)
    for role, node in parts.items():
        kind = registry.ROLES[role]
        assert set(node["enum"]) <= set(registry.keys(kind))
    if "policy" in parts:
        for key in parts["policy"]["enum"]:
            assert registry.get("policies", key).family == agent.policy_family


def test_distribution_choices_follow_the_action_space():
    sac = branch_schema("sac")["properties"]["parts"]["properties"]["distribution"]["enum"]
    assert set(sac) == {"squashed_gaussian", "truncated_normal"}  # bounded, with log-probabilities
    assert "distribution" not in branch_schema("dqn")["properties"]["parts"]["properties"]
    assert "normal_noise" not in branch_schema("ppo")["properties"]["parts"]["properties"]["distribution"]["enum"]


def test_bounds_and_choices_come_from_fields_and_docs():
    ppo = branch_schema("ppo")["properties"]["config"]["properties"]
    assert ppo["gamma"]["minimum"] == 0 and ppo["gamma"]["maximum"] == 1
    assert ppo["lr"]["exclusiveMinimum"] == 0
    assert ppo["lr_schedule"]["enum"] == ["constant", "linear"]
    assert set(ppo["activation"]["enum"]) >= {"tanh", "relu"}
    assert ppo["n_steps"]["minimum"] == 1
    assert catalog.config_info("ppo")["gamma"].check(1.5) == "must be at most 1"
    assert catalog.config_info("ppo")["lr"].check(0.0) == "must be above 0"
    assert catalog.config_info("ppo")["lr"].check(1e-3) is None


def test_single_algo_schema_is_that_branch():
    assert run_spec_schema(["td3"])["properties"]["algo"]["enum"] == ["td3"]


def test_grammar_schema_converts_to_a_llama_grammar():
    llama_cpp = pytest.importorskip("llama_cpp")
    schema = grammar_schema()
    assert "description" not in json.dumps(schema)
    grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    assert grammar is not None


def test_runspec_round_trip_and_refusals():
    spec = RunSpec.from_json({"algo": "ppo", "env_id": "CartPole-v1", "total_steps": 1000, "config": {"lr": 0.1},
                              "num_envs": None, "parts": {"encoder": None}})
    assert spec.num_envs is None and spec.parts == {} and spec.config == {"lr": 0.1}
    assert RunSpec.from_json(spec.to_json()) == spec
    with pytest.raises(CodegenError, match="Unknown spec key 'steps'"):
        RunSpec.from_json({"algo": "ppo", "env_id": "CartPole-v1", "steps": 5})
    with pytest.raises(CodegenError, match="lacks 'total_steps'"):
        RunSpec.from_json({"algo": "ppo", "env_id": "CartPole-v1"})
