"""The prompt and the decoding grammar: small, generated from rlcore, shaped by the request."""

from __future__ import annotations

import json

import pytest

from copilot.codegen.checks import precheck
from copilot.codegen.errors import Impossible
from copilot.codegen.facts import read_facts
from copilot.codegen.prompt import decoding_schema, messages, pinned, repair_messages


def test_prompt_lists_algorithms_envs_and_only_the_fields_asked_for():
    facts = read_facts("DQN on CartPole-v1, 20k steps, learning rate 1e-3.")
    chat = messages("DQN on CartPole-v1, 20k steps, learning rate 1e-3.", facts, ["- doc: text"])
    system = chat[0]["content"]
    assert "dqn (Discrete actions, 1 env)" in system and "Pendulum-v1 (Box)" in system
    assert "config fields to set: lr (Adam learning rate)" in system and "buffer_size" not in system
    assert system.endswith("- doc: text") and chat[-1]["content"].startswith("DQN on CartPole-v1")
    assert json.loads(chat[2]["content"])["algo"] == "dqn"  # the one-shot example is valid JSON
    assert len(system) < 1200


def test_stated_facts_are_fixed_in_the_grammar():
    facts = read_facts("PPO on Acrobot-v1 with 16 environments and 40000 steps, seed 7, gamma 0.98")
    schema = decoding_schema(facts)
    props = schema["properties"]
    assert props["algo"]["enum"] == ["ppo"] and props["env_id"] == {"enum": ["Acrobot-v1"]}
    assert props["total_steps"] == {"enum": [40000]} and props["seed"] == {"enum": [7]}
    assert props["num_envs"] == {"enum": [16]} and props["eval_episodes"] == {"enum": [10]}
    assert props["config"]["properties"] == {"gamma": {"enum": [0.98]}}
    assert props["config"]["required"] == ["gamma"]


def test_open_choices_stay_open():
    facts = read_facts("Swing up a pole with a larger batch size")
    schema = decoding_schema(facts)
    branches = schema["oneOf"]
    assert len(branches) > 1  # the model picks the algorithm
    for branch in branches:
        props = branch["properties"]
        assert "pattern" in props["env_id"] and props["total_steps"]["type"] == "integer"
        if "batch_size" in props["config"]["properties"]:
            assert props["config"]["properties"]["batch_size"]["type"] == "integer"
    assert pinned(facts, "sac")["seed"] == 0 and "total_steps" not in pinned(facts, "sac")


def test_grammar_with_pins_still_converts():
    llama_cpp = pytest.importorskip("llama_cpp")
    schema = decoding_schema(read_facts("TD3 on Pendulum-v1 for 9000 steps, hidden sizes 64, 64, tau 0.01"))
    assert llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False) is not None


def test_repair_message_carries_the_error_and_docs():
    chat = [{"role": "user", "content": "x"}]
    out = repair_messages(chat, '{"algo": "dqn"}', "DQN cannot act in Pendulum-v1", ["- sac: continuous"])
    assert out[-2] == {"role": "assistant", "content": '{"algo": "dqn"}'}
    assert "DQN cannot act" in out[-1]["content"] and "- sac: continuous" in out[-1]["content"]


@pytest.mark.parametrize("request_text,fragment", [
    ("Train PPO on NotAnEnv-v0", "'NotAnEnv-v0' is not a registered Gymnasium environment"),
    ("DQN on Pendulum-v1 for 5000 steps", "DQN cannot act in Pendulum-v1"),
    ("Train Rainbow on CartPole-v1", "rlcore has no 'rainbow' agent"),
    ("SAC with the AGAC bonus on Pendulum-v1", "rlcore has no reward 'agac'"),
])
def test_precheck_refuses_before_asking_the_model(request_text, fragment):
    with pytest.raises(Impossible, match=fragment.replace("(", r"\(")):
        precheck(read_facts(request_text))


def test_precheck_lets_feasible_requests_through():
    precheck(read_facts("Train PPO on CartPole-v1 for 25000 steps."))
    precheck(read_facts("Balance the pole for 5000 steps"))


def _tiny_index(folder, rows):
    from copilot.bm25 import BM25, tokenize
    from copilot.index import indexed_text

    folder.mkdir(parents=True)
    table = {"id": [f"c{i}" for i in range(len(rows))], "text": [r[2] for r in rows],
             "title": [r[0] for r in rows], "path": ["p"] * len(rows), "kind": [r[1] for r in rows],
             "heading": [""] * len(rows), "symbol": [None] * len(rows)}
    (folder / "chunks.json").write_text(json.dumps(table))
    BM25.build(tokenize(indexed_text(r[0], r[2])) for r in rows).save(folder / "bm25.npz")


def test_retrieval_is_lexical_filtered_by_kind_and_deterministic(settings):
    from copilot.codegen.prompt import retrieve

    assert retrieve(settings, "sac pendulum") == []  # no index yet: no snippets, no error
    _tiny_index(settings.index_dir, [
        ("SAC tutorial", "tutorial", "Train sac on Pendulum-v1 with make_agent and a config dict."),
        ("SAC paper", "paper", "Soft actor critic sac pendulum sac sac entropy."),
        ("PPO guide", "doc", "PPO on CartPole-v1 uses n_steps and batch_size."),
    ])
    first = retrieve(settings, "train sac on pendulum")
    assert first == retrieve(settings, "train sac on pendulum")
    assert first[0].startswith("- SAC tutorial: Train sac") and all("SAC paper" not in s for s in first)
